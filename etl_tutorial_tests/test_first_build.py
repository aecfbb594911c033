"""`make dev`'s first start on an empty database: with nobody clicking, the sensors observe
the CSVs (no run) and automation builds every table and the overview, which the UI shows."""

import shutil
import time
from pathlib import Path

import pytest

from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    SCREENSHOTS,
    runs_building_nothing,
    table_rows,
    ui_page,
    wait_for,
)
from harness.dagster_dev import DagsterDev, dagster_dev

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster_dev_first_build")]

# The longest any wait here may take before the test fails, saying what it waited for. How
# long the first build takes is measured by `make bench` (README quotes it), not here.
TIMEOUT = 300


@pytest.fixture(scope="module")
def built(tmp_path_factory, sample_csvs: Path) -> tuple[DagsterDev, float]:
    """`dagster dev` on a copy of the sample CSVs and an empty database, left to itself until
    automation has built both analysis tables from every sale and drawn the overview; yields it
    and the seconds that took from its start."""
    home = tmp_path_factory.mktemp("dagster_home")
    csv_dir = Path(shutil.copytree(sample_csvs, home / "csv"))
    want = {
        "monthly_sales_performance": expected.monthly_sales_performance(csv_dir),
        "product_performance": expected.product_performance(csv_dir),
    }
    started = time.monotonic()
    with dagster_dev(home, database=home / "sales.duckdb", csv_dir=csv_dir) as server:
        wait_for(
            lambda: (
                (home / "charts" / "revenue_per_product.png").exists()
                and all(table_rows(server, table) == rows for table, rows in want.items())
            ),
            "overview drawn and both analysis tables holding every sale",
            server,
            TIMEOUT,
        )
        yield server, time.monotonic() - started


def test_every_table_and_the_overview_build_by_themselves(built):
    server, took = built
    print(f"every table and the overview built {took:.0f} s after dagster dev started")
    # Observing the CSVs launched no run: every run built a table.
    assert runs_building_nothing(server) == []


FRESHNESS = """
query Freshness($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { freshnessStatusInfo { freshnessStatus } } }
}
"""


def test_the_tables_the_weekly_schedule_refreshes_show_as_fresh(built):
    server, _ = built

    def statuses() -> dict[str, str] | None:
        found = {
            name: server.graphql(FRESHNESS, {"key": {"path": [name]}})["assetNodeOrError"][
                "freshnessStatusInfo"
            ]["freshnessStatus"]
            for name in ("joined_data", "sales_overview")
        }
        return found if "UNKNOWN" not in found.values() else None

    found, _ = wait_for(
        statuses, "freshness status for joined_data and the overview", server, TIMEOUT
    )
    assert found == {"joined_data": "HEALTHY", "sales_overview": "HEALTHY"}


def test_each_chart_is_one_click_from_the_overview_page_and_shown_whole(chromium, built):
    from playwright.sync_api import expect

    server, _ = built
    with ui_page(chromium, server, "/assets/sales_overview", "Materialize") as (page, _button):
        viewport = page.viewport_size
        for chart in ("revenue_per_month", "revenue_per_product"):
            # The metadata table offers each chart behind a link, in the first screen of the
            # page, that opens it in a dialog.
            link = page.locator("tr", has=page.get_by_text(chart, exact=True)).get_by_text(
                "[Show Markdown]"
            )
            expect(link).to_be_in_viewport()
            link.click()
            dialog = page.get_by_role("dialog")
            image = dialog.get_by_role("img", name=chart.replace("_", " "))
            expect(image).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1000)  # the dialog fades in
            page.screenshot(path=SCREENSHOTS / f"{chart}.png")
            # Shown at its own size, not scaled down, and all of it inside the dialog, which is
            # inside the window.
            shown, frame = image.bounding_box(), dialog.bounding_box()
            assert shown["width"] == image.evaluate("image => image.naturalWidth"), chart
            assert frame["x"] <= shown["x"], chart
            assert shown["x"] + shown["width"] <= frame["x"] + frame["width"], (chart, frame)
            assert frame["x"] + frame["width"] <= viewport["width"], (chart, frame)
            dialog.get_by_role("button", name="Close").click()
            expect(dialog).to_be_hidden()
