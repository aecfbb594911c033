"""Lake mode past one machine (docs/scaling.md): the code server, webserver and daemon with
their instance in PostgreSQL (deploy/lake/dagster.yaml), the tables in DuckLake (its catalog in
the same PostgreSQL server, its Parquet files in a folder), and every step on one of two Celery
workers, with a Redis broker. The workers share nothing with the rest but the environment's
settings: they could be on other machines. Runs in the lake profile (.venv-lake)."""

import json
import os
import signal
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from etl_tutorial.publishing import connect
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    CATEGORIES,
    MONTHS,
    PARTITIONED,
    UNPARTITIONED,
    write_two_million_sales,
)
from harness.distributed import WORKERS, LakeDeployment, lake_deployment, redis_server_program
from harness.postgres import Postgres

pytestmark = [
    pytest.mark.lake,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("distributed"),
]

TIMEOUT = 300


@dataclass
class Cluster(LakeDeployment):
    postgres: Postgres | None = None

    def run(self, assets: list[str]) -> str:
        """Launches a run of `assets` as the UI does, and waits for it to end; its id."""
        run_id = self.server.launch_run(assets)
        run = self.server.wait_for_run(run_id, timeout=TIMEOUT)
        assert run["status"] == "SUCCESS", self.step_failures([run_id])
        return run_id

    def rows(self, sql: str) -> list[tuple]:
        with connect(self.lake) as conn:
            return conn.execute(sql).fetchall()

    def events(self, run_ids: list[str], event_type: str) -> list[dict]:
        """The runs' events of one type, as Dagster stored them in PostgreSQL, oldest first,
        each with its time (`ts`, seconds) and the id of the process it came from (`pid`)."""
        stored = self.postgres.query(
            "select event, extract(epoch from timestamp) from event_logs "
            "where run_id = any(%s) and dagster_event_type = %s order by id",
            [run_ids, event_type],
        )
        events = []
        for text, ts in stored:
            event = json.loads(text)["dagster_event"]
            events.append({"step": event["step_key"], "pid": event["pid"], "ts": float(ts)})
        return events

    def step_failures(self, run_ids: list[str]) -> str:
        """What the runs' failures and engine events say, with their errors' messages."""
        stored = self.postgres.query(
            "select event from event_logs where run_id = any(%s) "
            "and dagster_event_type in ('STEP_FAILURE', 'PIPELINE_FAILURE', 'ENGINE_EVENT') "
            "order by id",
            [run_ids],
        )
        said = []
        for (text,) in stored:
            event = json.loads(text)["dagster_event"]
            error = (event.get("event_specific_data") or {}).get("error") or {}
            said.append(f"{event['event_type_value']}: {event['message']} {error.get('message')}")
        return "\n".join(said)

    def worker_of(self, pid: int) -> str | None:
        """The worker whose process group `pid` is in, if any."""
        try:
            return self.worker_groups.get(os.getpgid(pid))
        except ProcessLookupError:
            return None


@pytest.fixture(scope="module")
def cluster(postgres: Postgres, tmp_path_factory, sample_csvs) -> Cluster:
    pytest.importorskip("dagster_celery", reason="lake mode runs in .venv-lake")
    if redis_server_program() is None:
        pytest.skip(
            "redis-server is not installed: install Debian's redis-server package "
            "(.ci/run does) to run the distributed test"
        )
    home = tmp_path_factory.mktemp("distributed")
    csv_dir = home / "csv"
    csv_dir.mkdir()
    for csv in sample_csvs.iterdir():
        (csv_dir / csv.name).write_bytes(csv.read_bytes())
    with lake_deployment(home, postgres, csv_dir) as deployed:
        yield Cluster(**vars(deployed), postgres=postgres)


def _overlapping_steps_on_two_workers(cluster: Cluster, run_ids: list[str]) -> list[tuple]:
    """Pairs of steps that ran at the same time on different workers."""
    started = {e["step"]: e for e in cluster.events(run_ids, "STEP_START")}
    ended = {e["step"]: e["ts"] for e in cluster.events(run_ids, "STEP_SUCCESS")}
    steps = [
        (step, cluster.worker_of(event["pid"]), event["ts"], ended[step])
        for step, event in started.items()
    ]
    return [
        (a[0], a[1], b[0], b[1])
        for a in steps
        for b in steps
        if a[0] < b[0] and a[1] != b[1] and a[2] < b[3] and b[2] < a[3]
    ]


def test_everything_runs_on_the_workers_and_equals_the_oracle(cluster):
    ingestion = cluster.run(UNPARTITIONED)
    backfill_id = cluster.server.launch_backfill(PARTITIONED)
    backfill = cluster.server.wait_for_backfill(backfill_id, timeout=TIMEOUT)
    overview = cluster.run(["sales_overview"])

    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    backfill_runs = [run["id"] for run in backfill["runs"]]
    csv_dir = cluster.server.csv_dir
    assert sorted(cluster.rows("select * from monthly_sales_performance")) == sorted(
        expected.monthly_sales_performance(csv_dir)
    )
    assert sorted(cluster.rows("select * from product_performance")) == sorted(
        expected.product_performance(csv_dir)
    )
    assert cluster.rows("select * from joined_data order by order_id") == expected.rows(
        expected.joined_data(csv_dir)
    )
    # The backfill wrote each partition exactly once.
    written = cluster.postgres.query(
        "select step_key, partition from event_logs "
        "where run_id = any(%s) and dagster_event_type = 'ASSET_MATERIALIZATION'",
        [backfill_runs],
    )
    assert sorted(written) == sorted(
        [("monthly_sales_performance", month) for month in MONTHS]
        + [("product_performance", category) for category in CATEGORIES]
    )
    # Every step ran in a worker's process, none in its run's, and both workers took steps.
    runs = [ingestion, *backfill_runs, overview]
    steps = cluster.events(runs, "STEP_START")
    assert len(steps) == len(UNPARTITIONED) + len(PARTITIONED) + 1
    assert {cluster.worker_of(step["pid"]) for step in steps} == set(WORKERS), steps
    # The three CSV loads are independent: two of them ran at the same time, on both workers.
    assert _overlapping_steps_on_two_workers(cluster, [ingestion]), steps


def test_a_worker_killed_mid_step_publishes_nothing_and_a_rerun_converges(cluster, sample_csvs):
    csv_dir = cluster.server.csv_dir
    cluster.run(["sales_data"])
    before = cluster.rows("select * from sales_data order by order_id")
    ((snapshot,),) = cluster.rows("select max(snapshot_id) from ducklake_snapshots('lake')")
    write_two_million_sales(csv_dir)
    try:
        files_before = _parquet_files(cluster)
        run_id = cluster.server.launch_run(["sales_data"])
        step = _wait_for(lambda: cluster.events([run_id], "STEP_START"), "the step's start")[0]
        assert cluster.worker_of(step["pid"]) in WORKERS, step
        # The worker's process that holds the step dies while the new rows are being written:
        # their first Parquet file is on disk, the transaction not committed.
        written = _wait_for(lambda: _parquet_files(cluster) - files_before, "new Parquet files")
        os.kill(step["pid"], signal.SIGKILL)

        run = cluster.server.wait_for_run(run_id, timeout=TIMEOUT)

        assert run["status"] == "FAILURE"
        said = cluster.step_failures([run_id])
        assert "[sales_data]" in said and "WorkerLostError" in said, said
        assert not cluster.events([run_id], "ASSET_MATERIALIZATION")
        assert cluster.rows("select * from sales_data order by order_id") == before
        ((latest,),) = cluster.rows("select max(snapshot_id) from ducklake_snapshots('lake')")
        assert latest == snapshot, "the killed step committed a snapshot"
        listed = cluster.rows("select data_file from ducklake_list_files('lake', 'sales_data')")
        assert not {Path(file).name for file in written} & {Path(f).name for (f,) in listed}

        cluster.run(["sales_data"])

        sales = expected.read_csv(csv_dir, "sales_data")
        assert cluster.rows(
            "select count(*), count(distinct order_id), sum(quantity), sum(dollar_amount) "
            "from sales_data"
        ) == [
            (
                len(sales),
                sales["order_id"].nunique(),
                int(sales["quantity"].sum()),
                sum(sales["dollar_amount"], Decimal(0)),
            )
        ]
    finally:
        (csv_dir / "sales_data.csv").write_bytes((sample_csvs / "sales_data.csv").read_bytes())


def _parquet_files(cluster: Cluster) -> set[Path]:
    return set(Path(cluster.lake.data_path).rglob("*.parquet"))


def _wait_for(found, what: str):
    """Polls `found()` until it returns something, and returns that."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if result := found():
            return result
        time.sleep(0.05)
    raise TimeoutError(f"no {what} in {TIMEOUT} s")
