"""Helpers the test modules share (fixtures are in conftest.py)."""

import csv
import fcntl
import functools
import html
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from markdown_it import MarkdownIt

from etl_tutorial.definitions import (
    csv_observation_sensor,
    defs,
    monthly_partition,
    product_category_partition,
    resources,
)
from harness.dagster_dev import DagsterDev

UNPARTITIONED = ["products", "sales_reps", "sales_data", "joined_data"]
PARTITIONED = ["monthly_sales_performance", "product_performance"]
# Every table people read, in the order the data flows.
TABLES = UNPARTITIONED + PARTITIONED
MONTHS = monthly_partition.get_partition_keys()
CATEGORIES = product_category_partition.get_partition_keys()
ALL_MONTHS = (MONTHS[0], MONTHS[-1])
ALL_CATEGORIES = (CATEGORIES[0], CATEGORIES[-1])
ALL_ASSETS = list(defs.assets)


def project_resources(database: Path, csv_dir: Path) -> dict[str, dg.ConfigurableResource]:
    """The resources `defs` builds from its environment variables (DuckDB's settings
    included), pointed at a test's own database and CSVs; charts go beside the database."""
    return resources(
        {
            "DUCKDB_DATABASE": str(database),
            "SALES_CSV_DIR": str(csv_dir),
            "SALES_CHART_DIR": str(Path(database).parent / "charts"),
        }
    )


@contextmanager
def once_per_session(tmp_path_factory, worker_id: str, name: str) -> Iterator[tuple[Path, bool]]:
    """A folder `name` that the test session's xdist workers share, held under a lock: yields
    it and whether it is still to be built. Without workers, a folder of this process's own."""
    if worker_id == "master":
        yield tmp_path_factory.mktemp(name), True
        return
    folder = tmp_path_factory.getbasetemp().parent / name
    with (folder.parent / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder, not folder.exists()


def materializer(database: Path, csv_dir: Path, instance: dg.DagsterInstance):
    """`dg.materialize` of a selection of the real definitions against a database and CSVs of
    a test's own, with a partition key or range (start, end) for partitioned assets."""

    def run(
        selection, *, partition_key=None, partition_range=None, run_config=None, raise_on_error=True
    ):
        return dg.materialize(
            ALL_ASSETS,
            selection=selection,
            partition_key=partition_key,
            tags=range_tags(partition_range),
            run_config=run_config,
            raise_on_error=raise_on_error,
            instance=instance,
            resources=project_resources(database, csv_dir),
        )

    return run


def range_tags(partition_range: tuple[str, str] | None) -> dict[str, str]:
    """The tags of one run of a range of partitions, (first, last), as a backfill's."""
    if not partition_range:
        return {}
    return {
        "dagster/asset_partition_range_start": partition_range[0],
        "dagster/asset_partition_range_end": partition_range[1],
    }


def build_every_table(run) -> None:
    """Every table from the CSVs with `run` (a `materializer`'s, or any function taking a
    selection and a partition range): each partitioned asset as one run of all its partitions."""
    run(UNPARTITIONED)
    run(["monthly_sales_performance"], partition_range=ALL_MONTHS)
    run(["product_performance"], partition_range=ALL_CATEGORIES)


def observe_csvs(
    instance: dg.DagsterInstance, csv_folder: dg.ConfigurableResource, cursor: str | None = None
) -> dg.SensorResult:
    """One tick of csv_observation_sensor after `cursor`, its observations recorded in
    `instance` as the sensor daemon records them, with no run."""
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"csv_folder": csv_folder}
    )
    tick = csv_observation_sensor.evaluate_tick(context)
    for event in tick.asset_events:
        instance.report_runless_asset_event(event)
    return tick


def rewrite_csv(path: Path, edit) -> None:
    """Rewrites a CSV after `edit(rows)` has changed its parsed rows (header first) in place."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    edit(rows)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


@functools.cache
def _this_process_duckdb() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@contextmanager
def opened(database: Path | str, *, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to `database` for a test to read (or change) it as the assets left it.

    The database is attached to one in-memory DuckDB this process keeps, for the block only:
    a connection of its own would start a DuckDB instance each time (about 20 ms, many times
    over in the suite). Detached after, it is closed when the assets connect again.
    """
    conn = _this_process_duckdb()
    mode = "(read_only)" if read_only else ""
    conn.execute(f"attach ? as tested {mode}", [str(database)])
    try:
        conn.execute("use tested")
        yield conn
    finally:
        conn.execute("use memory")
        conn.execute("detach tested")


def write_two_million_sales(csv_dir: Path) -> None:
    """Replaces csv_dir's sales_data.csv with 500 copies of its sales (about two million, for
    the sample): loading them takes long enough to be killed in the middle. Each copy gets
    order_ids of its own, so every key stays unique."""
    sales = csv_dir / "sales_data.csv"
    repeated = (
        "select s.* replace (s.order_id::bigint * 1000 + copy.range as order_id) "
        "from read_csv(?, all_varchar = true) as s, range(500) as copy"
    )
    with duckdb.connect() as conn:
        # COPY takes no parameter for its target; this is the test's own folder.
        conn.execute(f"copy ({repeated}) to '{csv_dir / 'big.csv'}' (header)", [str(sales)])
    (csv_dir / "big.csv").replace(sales)


def kill_once_writing(pid: int, database: Path, size: int, timeout: float = 120) -> float:
    """SIGKILLs process `pid` as soon as `database` has grown past `size` bytes, while a load
    is writing rows, uncommitted: DuckDB writes a large insert's row groups into the file
    before its commit, which comes a few tenths of a second later for two million sales, after
    the audits. Returns the time of the kill."""
    deadline = time.monotonic() + timeout
    while database.stat().st_size <= size:
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing was written to {database.name} in {timeout:.0f} s")
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    return time.time()


def changed_tables(database: Path, before: Path) -> list[str]:
    """The published tables whose rows in `database` are not, as a multiset, those in
    `before`, compared inside DuckDB without fetching them."""
    with opened(database) as conn:
        conn.execute("attach ? as before (read_only)", [str(before)])
        try:
            differs = ", ".join(
                f"exists (from {t} except all from before.{t}) or "  # noqa: S608
                f"exists (from before.{t} except all from {t})"
                for t in TABLES
            )
            found = conn.execute(f"select {differs}").fetchone()  # noqa: S608
            return [table for table, changed in zip(TABLES, found, strict=True) if changed]
        finally:
            conn.execute("detach before")


def distinct_rows(database: Path | str, table: str) -> set[tuple]:
    """The rows of `table`, after checking that none is there twice."""
    with opened(database) as conn:
        rows = conn.execute(f"select * from {table}").fetchall()  # noqa: S608
    assert len(rows) == len(set(rows)), f"{table} has duplicate rows"
    return set(rows)


def snapshot(database: Path) -> dict[str, list]:
    """Every published table, row for row."""
    with opened(database) as conn:
        return {
            table: conn.execute(f"select * from {table} order by all").fetchall()  # noqa: S608
            for table in TABLES
        }


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    """The assets a run recorded a materialization of."""
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def check_evaluation(result: dg.ExecuteInProcessResult, asset: str, check: str):
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == asset and e.check_name == check
    ]
    return evaluation


def step_failure(result: dg.ExecuteInProcessResult) -> str:
    """The message and description of the run's one failed step."""
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    user_failure = failure.step_failure_data.user_failure_data
    description = user_failure.description if user_failure else ""
    return f"{failure.step_failure_data.error.message} {description}"


@dataclass
class MarkdownTable:
    """A markdown table as a GitHub-flavoured markdown parser reads it: cell text as shown."""

    headers: list[str]
    rows: list[list[str]]
    right_aligned: set[str]

    def column(self, name: str) -> list[str]:
        index = self.headers.index(name)
        return [row[index] for row in self.rows]


def markdown_table(text: str) -> MarkdownTable:
    """Parses `text`, which must be exactly one markdown table, with markdown-it-py (an engine
    independent of the tabulate that wrote it); each cell is its text as rendered, which must
    be plain text."""
    # GitHub's flavour, as the UI renders it: raw HTML and strikethrough are markup too.
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = parser.parse(text)
    assert tokens[0].type == "table_open" and tokens[-1].type == "table_close", text
    rows, right_aligned, headers = [], set(), None
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("th_open", "td_open"):
            aligned_right = token.attrGet("style") == "text-align:right"
        elif token.type == "inline":
            rendered = parser.renderInline(token.content)
            # A cell must render as plain text: no emphasis, link, code or HTML of its own.
            assert "<" not in rendered, f"{token.content!r} renders as markup: {rendered}"
            rows[-1].append(html.unescape(rendered))
            if aligned_right:
                right_aligned.add(len(rows[-1]) - 1)
        elif token.type == "thead_close":
            (headers,) = rows
            rows = []
    return MarkdownTable(headers, rows, {headers[index] for index in right_aligned})


RUNS_SINCE = """
query RunsSince($after: Float) {
  runsOrError(filter: {createdAfter: $after}) {
    ... on Runs { results { status assetSelection { path } tags { key value } } }
  }
}
"""
SOURCES = {"products_csv", "sales_reps_csv", "sales_data_csv"}


def runs_since(server: DagsterDev, after: float = 0) -> list[dict]:
    """The runs created in `server`'s instance since `after` (a Unix time), newest first."""
    return server.graphql(RUNS_SINCE, {"after": after})["runsOrError"]["results"]


def runs_building_nothing(server: DagsterDev, since: float = 0) -> list[dict]:
    """The runs created since `since` that materialize no table: none, if observing the CSVs
    launches no run."""
    return [
        run
        for run in runs_since(server, since)
        if not (selected := {key["path"][-1] for key in run["assetSelection"] or []})
        or selected & SOURCES
    ]


def table_rows(server: DagsterDev, table: str) -> set[tuple] | None:
    """A table's rows in `server`'s database, or None while it does not exist or a run holds
    the database."""
    try:
        with duckdb.connect(server.env["DUCKDB_DATABASE"], read_only=True) as conn:
            return set(conn.execute(f"select * from {table}").fetchall())  # noqa: S608
    except (duckdb.IOException, duckdb.CatalogException):
        return None


def wait_for(condition, what: str, server: DagsterDev, timeout: float) -> tuple[object, float]:
    """The first truthy value of `condition()`, polled every second, and the seconds it
    took; fails after `timeout` with the end of `server`'s log. Callers assert on that value,
    not on a second read: by then a run may hold the database, or have changed it."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if value := condition():
            return value, time.monotonic() - start
        time.sleep(1)
    pytest.fail(f"no {what} after {timeout} s:\n{server.log.read_text()[-3000:]}", pytrace=False)


# Where the browser tests leave their screenshots (git-ignored).
SCREENSHOTS = Path(__file__).parent / "artifacts"


@contextmanager
def ui_page(chromium: str, server: DagsterDev, path: str, button: str, **page_options):
    """Headless Chromium on a page of the UI, once `button` is there; yields the page and it.
    `page_options` go to Playwright's `new_page` (`http_credentials`, say)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                # Keep Chromium from calling home: this machine has no network.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, **page_options)
            page.goto(f"{server.url}{path}")
            found = page.get_by_role("button", name=button)
            found.wait_for()
            # On the first visit to an instance the UI asks to join the community. Dismiss it
            # before opening another dialog: over the Materialize dialog it cannot be clicked.
            sign_up = page.get_by_text("Join the Dagster community")
            try:
                sign_up.wait_for(timeout=15_000)
            except PlaywrightTimeoutError:
                pass  # already dismissed in this instance
            else:
                page.get_by_role("button", name="Skip").click()
                sign_up.wait_for(state="hidden")
            yield page, found
        finally:
            browser.close()
