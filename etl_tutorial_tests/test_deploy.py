"""The code location on a production-shaped deployment: a gRPC code server, the webserver and
the daemon as three processes, sharing deploy/dagster.yaml with its storage in a real
PostgreSQL server, and a daemon that dies mid-backfill."""

import time

import pytest

from etl_tutorial.definitions import monthly_partition, product_category_partition
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import PARTITIONED, UNPARTITIONED, distinct_rows
from harness.dagster_dev import assets_per_run
from harness.deployment import Deployment, deployment
from harness.postgres import Postgres

# Server processes: kept out of the quick suite and on one worker with the deployment they share.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("deployment")]

TIMEOUT = 300
# A backfill of every partition of both assets records one materialization per partition.
PARTITIONS = len(monthly_partition.get_partition_keys()) + len(
    product_category_partition.get_partition_keys()
)
UNFINISHED = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED"}


@pytest.fixture(scope="module")
def deployed(postgres: Postgres, tmp_path_factory, sample_csvs) -> Deployment:
    """The deployment with the ingestion assets materialized by a run through its queue."""
    home = tmp_path_factory.mktemp("deployment")
    warehouse = {"DUCKDB_DATABASE": str(home / "sales.duckdb")}
    with deployment(home, postgres, warehouse, sample_csvs) as server:
        # Eager automation would add runs of its own; these tests count the backfills' runs.
        server.stop_sensor("default_automation_condition_sensor")
        run = server.wait_for_run(server.launch_run(UNPARTITIONED), timeout=TIMEOUT)
        assert run["status"] == "SUCCESS", server.log.read_text()[-3000:]
        yield server


def _assert_backfilled_once(server: Deployment, postgres: Postgres, backfill: dict) -> None:
    """The backfill succeeded in two runs, one per asset, that wrote every partition exactly
    once, with the totals of an independent computation, and PostgreSQL holds its record."""
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    run_ids = [run["id"] for run in backfill["runs"]]
    assert assets_per_run(backfill) == [("monthly_sales_performance",), ("product_performance",)]
    assert {run["status"] for run in backfill["runs"]} == {"SUCCESS"}
    database = server.env["DUCKDB_DATABASE"]
    monthly = distinct_rows(database, "monthly_sales_performance")
    assert monthly == expected.monthly_sales_performance(server.csv_dir)
    by_category = distinct_rows(database, "product_performance")
    assert by_category == expected.product_performance(server.csv_dir)
    # The instance's storage is PostgreSQL: the runs, their events and the backfill are rows.
    stored = postgres.query("select run_id, status from runs where run_id = any(%s)", [run_ids])
    assert sorted(stored) == sorted((run_id, "SUCCESS") for run_id in run_ids)
    ((materializations,),) = postgres.query(
        "select count(*) from event_logs "
        "where run_id = any(%s) and dagster_event_type = 'ASSET_MATERIALIZATION'",
        [run_ids],
    )
    assert materializations == PARTITIONS
    assert postgres.query("select status from bulk_actions where key = %s", [backfill["id"]]) == [
        ("COMPLETED_SUCCESS",)
    ]


def test_a_backfill_of_every_partition_completes_in_one_run_per_asset_stored_in_postgres(
    deployed, postgres
):
    deployed.drop_tables(PARTITIONED)
    backfill_id = deployed.launch_backfill(PARTITIONED)

    backfill = deployed.wait_for_backfill(backfill_id, timeout=TIMEOUT)

    _assert_backfilled_once(deployed, postgres, {**backfill, "id": backfill_id})


def _wait_for_an_unfinished_run(server: Deployment, backfill_id: str) -> dict:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        backfill = server.backfill(backfill_id)
        unfinished = [run for run in backfill["runs"] if run["status"] in UNFINISHED]
        if unfinished:
            return unfinished[0]
        assert backfill["status"] == "REQUESTED", (
            f"no run seen before the backfill ended: {backfill}"
        )
        time.sleep(0.2)
    raise TimeoutError(f"backfill {backfill_id} started no run in {TIMEOUT} s")


def test_killing_the_daemon_mid_backfill_loses_and_duplicates_nothing(deployed, postgres):
    deployed.drop_tables(PARTITIONED)
    backfill_id = deployed.launch_backfill(PARTITIONED)
    run = _wait_for_an_unfinished_run(deployed, backfill_id)

    deployed.kill_daemon()
    deployed.start_daemon()

    backfill = deployed.wait_for_backfill(backfill_id, timeout=TIMEOUT)
    assert run["id"] in {r["id"] for r in backfill["runs"]}
    _assert_backfilled_once(deployed, postgres, {**backfill, "id": backfill_id})
