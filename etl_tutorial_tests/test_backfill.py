"""Backfills as a user launches them: through `dagster dev`, its daemon and its webserver."""

import re
import time
from pathlib import Path

import pytest

from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    PARTITIONED,
    SCREENSHOTS,
    UNPARTITIONED,
    distinct_rows,
    ui_page,
)
from harness.dagster_dev import DagsterDev, assets_per_run, dagster_dev

# One `dagster dev` serves every test here, so they run on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster_dev")]

BACKFILL_TIMEOUT = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory, sample_csvs: Path) -> DagsterDev:
    home = tmp_path_factory.mktemp("dagster_home")
    with dagster_dev(home, database=home / "sales.duckdb", csv_dir=sample_csvs) as server:
        # Eager automation would start runs of its own after the ingestion below; they could
        # hold the database just as a test opens it to compare the tables.
        server.stop_sensor("default_automation_condition_sensor")
        server.materialize(UNPARTITIONED)
        yield server


def _rows(server: DagsterDev, table: str) -> set[tuple]:
    return distinct_rows(server.env["DUCKDB_DATABASE"], table)


def _no_lock_errors(server: DagsterDev) -> None:
    home = Path(server.env["DAGSTER_HOME"])
    for path in home.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            assert b"Could not set lock on file" not in path.read_bytes(), path


def test_backfill_of_all_partitions_runs_once_per_asset_and_writes_correct_totals(server):
    server.drop_tables(PARTITIONED)
    backfill_id = server.launch_backfill(PARTITIONED)
    backfill = server.wait_for_backfill(backfill_id, timeout=BACKFILL_TIMEOUT)

    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    # Each asset's single-run policy puts all its partitions in one run: two runs, one per asset.
    assert assets_per_run(backfill) == [("monthly_sales_performance",), ("product_performance",)]
    assert {run["status"] for run in backfill["runs"]} == {"SUCCESS"}
    assert _rows(server, "monthly_sales_performance") == expected.monthly_sales_performance(
        server.csv_dir
    )
    assert _rows(server, "product_performance") == expected.product_performance(server.csv_dir)
    _no_lock_errors(server)


def _created_backfill(page) -> str:
    from playwright.sync_api import expect

    toast = page.get_by_text("Created backfill")
    expect(toast).to_be_visible(timeout=30_000)
    return toast.inner_text().split()[-1]


def test_backfill_launched_from_the_asset_page_succeeds(chromium, server):
    from playwright.sync_api import expect

    server.drop_tables(PARTITIONED)
    page_path, button = "/assets/monthly_sales_performance", "Materialize…"
    with ui_page(chromium, server, page_path, button) as (page, materialize):
        materialize.click()
        dialog = page.get_by_role("dialog")
        # The dialog opens on the last 90 days; a full backfill needs every month.
        dialog.get_by_text("Show all partitions").click()
        dialog.get_by_role("button", name="All", exact=True).click()
        expect(dialog.get_by_text("Backfills all partitions in a single run.")).to_be_visible()
        dialog.get_by_role("button", name="Launch backfill").click()
        backfill_id = _created_backfill(page)
        page.goto(f"{server.url}/runs/b/{backfill_id}")
        # The backfill page shows progress per asset; reload until it reaches 100%.
        completed = page.get_by_text("100% completed")
        deadline = time.monotonic() + BACKFILL_TIMEOUT
        while not completed.is_visible() and time.monotonic() < deadline:
            page.wait_for_timeout(2000)
            page.reload()
            page.get_by_text("Partition selection").wait_for()
        page.screenshot(path=SCREENSHOTS / "backfill_from_asset_page.png")
        expect(completed).to_be_visible()
        expect(page.locator("body")).to_contain_text(re.compile(r"Status\s*Succeeded"))

    backfill = server.wait_for_backfill(backfill_id, timeout=60)
    assert backfill["status"] == "COMPLETED_SUCCESS"
    assert assets_per_run(backfill) == [("monthly_sales_performance",)]
    assert _rows(server, "monthly_sales_performance") == expected.monthly_sales_performance(
        server.csv_dir
    )
    _no_lock_errors(server)


def test_materialize_all_on_the_lineage_page_succeeds(chromium, server):
    """Every asset, every partition, and adhoc_request with the sample request."""
    server.drop_tables(PARTITIONED)
    # The button counts what it materializes: "Materialize all (8)…", the CSVs being observed.
    with ui_page(chromium, server, "/asset-groups", "Materialize all (8)…") as (
        page,
        materialize_all,
    ):
        materialize_all.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Launch backfill").click()
        backfill_id = _created_backfill(page)
        page.screenshot(path=SCREENSHOTS / "materialize_all.png")

    backfill = server.wait_for_backfill(backfill_id, timeout=BACKFILL_TIMEOUT)
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert {run["status"] for run in backfill["runs"]} == {"SUCCESS"}
    assert _rows(server, "monthly_sales_performance") == expected.monthly_sales_performance(
        server.csv_dir
    )
    assert _rows(server, "product_performance") == expected.product_performance(server.csv_dir)
    _no_lock_errors(server)
