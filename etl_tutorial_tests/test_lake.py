"""Lake mode: the whole pipeline on DuckLake, its catalog in a throwaway PostgreSQL server and
its Parquet files in a folder, in process. Runs in the lake profile (.venv-lake)."""

import os
from pathlib import Path

import dagster as dg
import pytest

from etl_tutorial import publishing, queries
from etl_tutorial.csv_files import CsvFolder
from etl_tutorial.definitions import JOINED_DATA_CHECKS, monthly_partition, resources
from etl_tutorial.publishing import connect, publish, rewrite_partitions
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    ALL_ASSETS,
    MONTHS,
    build_every_table,
    range_tags,
    rewrite_csv,
)

pytestmark = [
    pytest.mark.lake,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("lake"),
]


@pytest.fixture(scope="module")
def lake(request, tmp_path_factory, sample_csvs) -> dict[str, dg.ConfigurableResource]:
    """The code location's resources in lake mode, as its environment would set them, with
    every table built from a copy of the sample CSVs."""
    pytest.importorskip("duckdb_extension_ducklake", reason="lake mode runs in .venv-lake")
    postgres = request.getfixturevalue("postgres")
    folder = tmp_path_factory.mktemp("lake")
    csv_dir = folder / "csv"
    csv_dir.mkdir()
    for csv in sample_csvs.iterdir():
        (csv_dir / csv.name).write_bytes(csv.read_bytes())
    with pytest.MonkeyPatch.context() as env:
        # libpq's own variable: the password is never part of the catalog's connection string.
        env.setenv("PGPASSWORD", postgres.password)
        found = resources(
            {
                "DUCKLAKE_CATALOG": f"postgres:dbname={postgres.database} host={postgres.host} "
                f"port={postgres.port} user={postgres.user}",
                "DUCKLAKE_DATA_PATH": f"{folder / 'parquet'}{os.sep}",
                "SALES_CSV_DIR": str(csv_dir),
                "SALES_CHART_DIR": str(folder / "charts"),
            }
        )

        def run(selection, *, partition_range=None):
            tags = range_tags(partition_range)
            dg.materialize(ALL_ASSETS, selection=selection, tags=tags, resources=found)

        build_every_table(run)
        run(["sales_overview"])
        yield found


def _rows(lake, sql: str, params=()) -> list[tuple]:
    with connect(lake["duckdb"]) as conn:
        return conn.execute(sql, params).fetchall()


def test_every_table_in_the_lake_equals_the_oracle(lake):
    csv_dir = Path(lake["csv_folder"].path)
    assert set(_rows(lake, "select * from monthly_sales_performance")) == (
        expected.monthly_sales_performance(csv_dir)
    )
    assert set(_rows(lake, "select * from product_performance")) == expected.product_performance(
        csv_dir
    )
    assert _rows(lake, "select * from joined_data order by order_id") == expected.rows(
        expected.joined_data(csv_dir)
    )
    # The rows are in Parquet files under the data path, not in the catalog's database.
    ((files,),) = _rows(lake, "select count(*) from ducklake_list_files('lake', 'sales_data')")
    assert files >= 1


def test_a_failed_check_in_the_lake_leaves_the_last_snapshot_as_it_was(lake, tmp_path):
    before = _rows(lake, "select * from sales_data order by order_id")
    ((snapshot,),) = _rows(lake, "select max(snapshot_id) from ducklake_snapshots('lake')")
    # A repeated order_id, in a copy of the CSVs: the unique check on sales_data fails.
    csv_dir = Path(lake["csv_folder"].path)
    for csv in csv_dir.iterdir():
        (tmp_path / csv.name).write_bytes(csv.read_bytes())
    rewrite_csv(tmp_path / "sales_data.csv", lambda rows: rows.append(rows[1]))

    result = dg.materialize(
        ALL_ASSETS,
        selection=["sales_data"],
        resources={**lake, "csv_folder": CsvFolder(path=str(tmp_path))},
        raise_on_error=False,
    )

    assert not result.success
    assert _rows(lake, "select * from sales_data order by order_id") == before
    assert (
        _rows(lake, "select * from sales_data at (version => ?) order by order_id", [snapshot])
        == before
    )


class _OtherWritersCommitFirst:
    """A connection whose commits come just after `other_write` committed another writer's
    change to the same table: its first commit only, or every one; it counts its commits."""

    def __init__(self, conn, other_write, *, every_commit: bool = False):
        self._conn = conn
        self._other_write = other_write
        self._every_commit = every_commit
        self.commits = 0

    def execute(self, sql, *args):
        if sql == "commit":
            self.commits += 1
            if self.commits == 1 or self._every_commit:
                self._other_write()
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def _month(key: str) -> dict[str, object]:
    window = monthly_partition.time_window_for_partition_key(key)
    return {"start": window.start.date(), "end": window.end.date()}


def _rewrite_month(conn, key: str) -> None:
    list(
        rewrite_partitions(conn, queries.MONTHLY_SALES_PERFORMANCE, keys=[key], params=_month(key))
    )


def test_partitions_written_at_once_by_two_writers_are_each_written_once(lake):
    first, second = MONTHS[0], MONTHS[1]
    csv_dir = Path(lake["csv_folder"].path)
    rows_in = "select count(*) from monthly_sales_performance where partition_date = ?"
    with connect(lake["duckdb"]) as conn, connect(lake["duckdb"]) as other:
        # The first month is emptied, so that only this writer's rows can fill it again; the
        # other writer's rewrite deletes the second month's rows before inserting them.
        conn.execute("delete from monthly_sales_performance where partition_date = ?", [first[:7]])
        assert conn.execute(rows_in, [first[:7]]).fetchall() == [(0,)]
        assert conn.execute(rows_in, [second[:7]]).fetchall() != [(0,)]
        writer = _OtherWritersCommitFirst(conn, lambda: _rewrite_month(other, second))

        _rewrite_month(writer, first)

    # The first commit conflicted with the other writer's, and the write was done again.
    assert writer.commits == 2
    assert sorted(_rows(lake, "select * from monthly_sales_performance")) == sorted(
        expected.monthly_sales_performance(csv_dir)
    )


def _publish_joined_data(conn, *, select: str = queries.JOINED_DATA) -> None:
    list(
        publish(
            conn,
            "joined_data",
            select=select,
            audits=JOINED_DATA_CHECKS,
            key="order_id",
            order_by="order_id",
            source="sales joined",
        )
    )


# The other writer's rows pass every check but name products in capitals: they show whose
# write came last.
CAPITALS = f"select * replace (upper(product_name) as product_name) from ({queries.JOINED_DATA})"  # noqa: S608


def test_a_table_published_at_once_by_two_writers_is_whole_and_leaves_nothing_staged(lake):
    csv_dir = Path(lake["csv_folder"].path)
    with connect(lake["duckdb"]) as conn, connect(lake["duckdb"]) as other:
        writer = _OtherWritersCommitFirst(
            conn, lambda: _publish_joined_data(other, select=CAPITALS)
        )
        _publish_joined_data(writer)

    # The first commit conflicted, and the write done again replaced the other writer's.
    assert writer.commits == 2
    assert _rows(lake, "select * from joined_data order by order_id") == expected.rows(
        expected.joined_data(csv_dir)
    )
    assert (
        _rows(lake, "select table_name from duckdb_tables() where table_name like '%staged'") == []
    )


def test_a_write_that_conflicts_every_time_fails_saying_so_and_commits_nothing(lake, monkeypatch):
    monkeypatch.setattr(publishing, "CONFLICT_ATTEMPTS", 2)
    first, second = MONTHS[0], MONTHS[1]
    count_first = "select count(*) from monthly_sales_performance where partition_date = ?"
    with connect(lake["duckdb"]) as conn, connect(lake["duckdb"]) as other:
        conn.execute("delete from monthly_sales_performance where partition_date = ?", [first[:7]])
        writer = _OtherWritersCommitFirst(
            conn, lambda: _rewrite_month(other, second), every_commit=True
        )

        with pytest.raises(dg.Failure, match="2 commits in a row conflicted"):
            _rewrite_month(writer, first)

        assert writer.commits == 2
        # Neither attempt's rows were committed: the month is still empty.
        assert conn.execute(count_first, [first[:7]]).fetchall() == [(0,)]
        _rewrite_month(conn, first)
    assert _rows(lake, count_first, [first[:7]]) != [(0,)]
