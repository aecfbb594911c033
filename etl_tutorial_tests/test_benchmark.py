"""The benchmark measures the pipeline: its two workloads, run as `make bench` runs them on a
small generated dataset, leave the tables the pipeline publishes, row for row. Nothing is timed."""

from pathlib import Path

import duckdb
import pytest

from etl_tutorial import sample_data
from etl_tutorial_tests.helpers import (
    TABLES,
    build_every_table,
    changed_tables,
)

ROWS = 20_000


@pytest.fixture
def bench():
    """benchmarks/bench.py, imported by the tests that use it: importing it (and Dagster's
    daemon with it) takes most of a second that the other tests need not pay."""
    from benchmarks import bench

    return bench


# What bench.py reads from each workload's output.
TIMINGS = {
    "pipeline": {"pipeline", "checks", "joined_data_step", "one_month_step"},
    "floor": {"floor"},
}


@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    """20,000 generated sales rows, in place of the shipped CSVs, for every fixture here."""
    return sample_data.generate(tmp_path / "csv", ROWS)


def _columns(database: Path) -> dict[str, list[tuple[str, str]]]:
    """Each published table's column names and types, in order."""
    with duckdb.connect(str(database), read_only=True) as conn:
        return {
            table: conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            for table in TABLES
        }


def _row_counts(database: Path) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608
            for table in TABLES
        }


# Each workload is a Python process of its own that imports Dagster: seconds each.
@pytest.mark.slow
def test_both_benchmark_workloads_leave_the_tables_the_pipeline_publishes(
    materialize, database: Path, csv_dir: Path, tmp_path: Path, bench
):
    build_every_table(materialize)

    workload_databases = {}
    for workload, timings in TIMINGS.items():
        workload_databases[workload] = tmp_path / f"{workload}.duckdb"
        output, _ = bench.run_workload(workload, csv_dir, workload_databases[workload])
        assert set(output) == timings
    pipeline, floor = workload_databases["pipeline"], workload_databases["floor"]

    counts = _row_counts(database)
    assert counts["sales_data"] == counts["joined_data"] == ROWS
    assert all(counts.values()), counts
    assert _columns(pipeline) == _columns(database)
    assert _columns(floor) == _columns(database)
    # Each table, as a multiset of rows, compared inside DuckDB with `except all` both ways.
    assert changed_tables(pipeline, database) == []
    assert changed_tables(floor, database) == []
    assert changed_tables(floor, pipeline) == []


def test_a_generation_killed_midway_is_never_taken_for_the_data(monkeypatch, tmp_path: Path, bench):
    monkeypatch.setattr(bench, "DATA", tmp_path)
    generate = sample_data.generate

    def killed(out: Path, rows: int) -> Path:
        generate(out, rows)
        with (out / "sales_data.csv").open("r+") as f:
            f.truncate(100)
        raise KeyboardInterrupt

    monkeypatch.setattr(sample_data, "generate", killed)
    with pytest.raises(KeyboardInterrupt):
        bench.sales_csvs(500)
    assert not (tmp_path / "sales_500").exists()

    monkeypatch.setattr(sample_data, "generate", generate)
    folder = bench.sales_csvs(500)
    assert folder == tmp_path / "sales_500"
    with (folder / "sales_data.csv").open() as f:
        assert sum(1 for _ in f) == 1 + 500
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sales_500"]


@pytest.mark.parametrize(
    ("runs", "dequeue_interval", "floor"),
    [
        # One run: picked up by one evaluation, completed by the next, 30 s later.
        (1, 5, 30),
        # Two runs, one per asset: the second leaves the queue 5 s after the first.
        (2, 5, 30),
        # The seventh run leaves the queue 30 s after the first, with the second evaluation:
        # only the third can see it finished.
        (7, 5, 60),
        # 38 runs, one per partition: the last leaves the queue 185 s after the first; the
        # seventh evaluation after the first (210 s) is the first that can see it finished.
        (38, 5, 210),
        (38, 1, 60),
    ],
)
def test_the_daemon_floor_counts_whole_backfill_daemon_intervals(
    runs, dequeue_interval, floor, bench
):
    assert bench.BACKFILL_DAEMON_INTERVAL == 30
    assert bench.daemon_floor(runs, dequeue_interval, runs_per_dequeue=1) == floor
