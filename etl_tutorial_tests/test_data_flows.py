"""New data flowing by itself under `dagster dev` with the project's defaults: a sensor
observes the CSVs (no run) and automation builds whatever a change reaches, with nobody
clicking."""

import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from etl_tutorial.paths import PROJECT_DIR
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    build_every_table,
    materializer,
    observe_csvs,
    project_resources,
    runs_building_nothing,
    runs_since,
    table_rows,
    wait_for,
)
from harness.dagster_dev import DagsterDev, dagster_dev

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster_dev_automation")]

# The longest any wait here may take before the test fails, saying what it waited for.
TIMEOUT = 300
SENSORS = ["csv_observation_sensor", "default_automation_condition_sensor"]


@pytest.fixture(scope="module")
def live(tmp_path_factory, sample_csvs: Path) -> tuple[DagsterDev, Path, float]:
    """`dagster dev` as a user finds it once its first build is done: the sample CSVs observed,
    and every table and the overview built, recorded in its instance. (test_first_build.py
    watches `dagster dev` build them from nothing.) Yields it, the CSV folder and the time it
    started, once both sensors have ticked."""
    home = tmp_path_factory.mktemp("dagster_home")
    csv_dir = Path(shutil.copytree(sample_csvs, home / "csv"))
    database = home / "sales.duckdb"
    shutil.copy(PROJECT_DIR / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        observe_csvs(instance, project_resources(database, csv_dir)["csv_folder"])
        run = materializer(database, csv_dir, instance)
        build_every_table(run)
        run(["sales_overview"])
    started = time.time()
    with dagster_dev(home, database=database, csv_dir=csv_dir) as server:
        # The sensor's first tick observes the CSVs again, with the versions recorded above,
        # and automation's first evaluation has nothing to do. A sale appended after both is
        # new data.
        wait_for(
            lambda: all(server.finished_ticks(sensor) for sensor in SENSORS),
            "first tick of both sensors",
            server,
            TIMEOUT,
        )
        assert runs_since(server, started) == [], "automation rebuilt tables that were up to date"
        yield server, csv_dir, started


# README promises new data in both analysis tables within this many seconds of its write.
PROMISED_LATENCY = 90


def test_an_appended_sale_reaches_both_analysis_tables_by_itself_within_90_s(live):
    server, csv_dir, started = live
    appended_at = time.time()
    products = expected.read_csv(csv_dir, "products")
    (product_id,) = products[products["product_name"] == "Clean SQL"]["product_id"]
    with (csv_dir / "sales_data.csv").open("a", encoding="utf-8") as f:
        f.write(f"90001,2024-05-10,{product_id},R01,Walk-in Customer,3,99.90\n")
    want = {
        "product_performance": expected.product_performance(csv_dir),
        "monthly_sales_performance": expected.monthly_sales_performance(csv_dir),
    }

    def with_the_new_sale() -> dict[str, set[tuple]] | None:
        found = {table: table_rows(server, table) for table in want}
        return found if found == want else None

    _, waited = wait_for(with_the_new_sale, "the new sale in both analysis tables", server, TIMEOUT)

    print(f"the sale reached both analysis tables after {waited:.0f} s")
    assert waited <= PROMISED_LATENCY

    # Every month and category was rewritten as a backfill of one run per asset.
    def finished() -> dict[str, list] | None:
        runs = _runs_by_partitioned_asset(server, since=appended_at)
        done = all(runs.values()) and all(
            r["status"] == "SUCCESS" for rs in runs.values() for r in rs
        )
        return runs if done else None

    runs_by_asset, _ = wait_for(
        finished, "successful runs of both partitioned assets", server, TIMEOUT
    )
    for asset, runs in runs_by_asset.items():
        (run,) = runs
        assert "dagster/backfill" in {tag["key"] for tag in run["tags"]}, (asset, run)
    # Observing the CSVs launched no run, since `dagster dev` started: every run built a table.
    assert runs_building_nothing(server, since=started) == []


def _runs_by_partitioned_asset(server: DagsterDev, since: float) -> dict[str, list]:
    """The runs created since `since` that materialize each partitioned asset."""
    runs = runs_since(server, since)
    return {
        asset: [
            run for run in runs if [asset] in [key["path"] for key in run["assetSelection"] or []]
        ]
        for asset in ("monthly_sales_performance", "product_performance")
    }
