"""New data flowing by itself under `dagster dev` with the project's defaults: a sensor
observes the CSVs (no run) and automation builds whatever a change reaches, with nobody
clicking."""

import shutil
import time
from pathlib import Path

import duckdb
import pytest

from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import SCREENSHOTS, ui_page
from harness.dagster_dev import DagsterDev, dagster_dev

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster_dev_automation")]

# The longest a change may take to reach the analysis tables: the observation sensor's next
# tick (every 10 s), then a few of the automation sensor's and backfill daemon's ticks (every
# 30 s each), and the runs themselves.
FLOW_TIMEOUT = 420


@pytest.fixture(scope="module")
def live(tmp_path_factory, sample_csvs: Path) -> tuple[DagsterDev, Path]:
    """`dagster dev` on a copy of the sample CSVs and an empty database, left to itself
    until automation has built every table and the overview."""
    home = tmp_path_factory.mktemp("dagster_home")
    csv_dir = Path(shutil.copytree(sample_csvs, home / "csv"))
    with dagster_dev(home, database=home / "sales.duckdb", csv_dir=csv_dir) as server:
        _wait_for(
            lambda: (
                _rows(server, "product_performance") == expected.product_performance(csv_dir)
                and (home / "charts" / "revenue_per_product.png").exists()
            ),
            "the first build of every table and the overview",
            server,
        )
        yield server, csv_dir


def _rows(server: DagsterDev, table: str) -> set[tuple] | None:
    """The table's rows, or None while it does not exist or a run holds the database."""
    try:
        with duckdb.connect(server.env["DUCKDB_DATABASE"], read_only=True) as conn:
            return set(conn.execute(f"select * from {table}").fetchall())  # noqa: S608
    except (duckdb.IOException, duckdb.CatalogException):
        return None


def _wait_for(condition, what: str, server: DagsterDev) -> tuple[object, float]:
    """The first truthy value of `condition()` and the seconds it took; fails after
    FLOW_TIMEOUT. Callers assert on that value, not on a second read: by then a run may
    hold the database, or have changed it."""
    start = time.monotonic()
    while time.monotonic() - start < FLOW_TIMEOUT:
        if value := condition():
            return value, time.monotonic() - start
        time.sleep(1)
    pytest.fail(
        f"no {what} after {FLOW_TIMEOUT} s:\n{server.log.read_text()[-3000:]}", pytrace=False
    )


RUNS_SINCE = """
query RunsSince($after: Float) {
  runsOrError(filter: {createdAfter: $after}) {
    ... on Runs { results { status assetSelection { path } tags { key value } } }
  }
}
"""


# README promises new data in both analysis tables within this many seconds of its write.
PROMISED_LATENCY = 90


def test_an_appended_sale_reaches_both_analysis_tables_by_itself_within_90_s(live):
    server, csv_dir = live
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
        found = {table: _rows(server, table) for table in want}
        return found if found == want else None

    _, waited = _wait_for(with_the_new_sale, "the new sale in both analysis tables", server)

    print(f"the sale reached both analysis tables after {waited:.0f} s")
    assert waited <= PROMISED_LATENCY

    # Every month and category was rewritten as a backfill of one run per asset.
    def finished() -> dict[str, list] | None:
        runs = _runs_by_partitioned_asset(server, since=appended_at)
        done = all(runs.values()) and all(
            r["status"] == "SUCCESS" for rs in runs.values() for r in rs
        )
        return runs if done else None

    runs_by_asset, _ = _wait_for(finished, "successful runs of both partitioned assets", server)
    for asset, runs in runs_by_asset.items():
        (run,) = runs
        assert "dagster/backfill" in {tag["key"] for tag in run["tags"]}, (asset, run)
    # Observing the CSVs launched no run, since `dagster dev` started: every run built a table.
    every_run = server.graphql(RUNS_SINCE, {"after": 0})["runsOrError"]["results"]
    observed = {"products_csv", "sales_reps_csv", "sales_data_csv"}
    for run in every_run:
        selected = {key["path"][-1] for key in run["assetSelection"] or []}
        assert selected and not selected & observed, run


def _runs_by_partitioned_asset(server: DagsterDev, since: float) -> dict[str, list]:
    """The runs created since `since` that materialize each partitioned asset."""
    runs = server.graphql(RUNS_SINCE, {"after": since})["runsOrError"]["results"]
    return {
        asset: [
            run for run in runs if [asset] in [key["path"] for key in run["assetSelection"] or []]
        ]
        for asset in ("monthly_sales_performance", "product_performance")
    }


FRESHNESS = """
query Freshness($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { freshnessStatusInfo { freshnessStatus } } }
}
"""


def test_the_tables_the_weekly_schedule_refreshes_show_as_fresh(live):
    server, _ = live

    def statuses() -> dict[str, str] | None:
        found = {
            name: server.graphql(FRESHNESS, {"key": {"path": [name]}})["assetNodeOrError"][
                "freshnessStatusInfo"
            ]["freshnessStatus"]
            for name in ("joined_data", "sales_overview")
        }
        return found if "UNKNOWN" not in found.values() else None

    found, _ = _wait_for(statuses, "a freshness status for joined_data and the overview", server)
    assert found == {"joined_data": "HEALTHY", "sales_overview": "HEALTHY"}


def test_the_overview_page_shows_the_charts(chromium, live):
    from playwright.sync_api import expect

    server, _ = live
    with ui_page(chromium, server, "/assets/sales_overview", "Materialize") as (page, _button):
        # The metadata table offers a chart's markdown behind a link; it opens in a dialog.
        row = page.locator("tr", has=page.get_by_text("revenue_per_month", exact=True))
        row.get_by_text("[Show Markdown]").click()
        chart = page.get_by_role("dialog").get_by_role("img", name="revenue per month")
        expect(chart).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1000)  # the dialog fades in
        page.screenshot(path=SCREENSHOTS / "sales_overview.png")
        assert chart.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [1000, 400]
