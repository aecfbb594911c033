"""The weekly schedule and eager automation of the partitioned assets. (Ad hoc requests are
in test_adhoc.py.)"""

import hashlib
import os
import time
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from etl_tutorial import csv_files
from etl_tutorial.csv_files import observe_csv
from etl_tutorial.definitions import (
    automation_sensor,
    csv_observation_sensor,
    defs,
    weekly_update_schedule,
)
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    ALL_ASSETS,
    CATEGORIES,
    MONTHS,
    UNPARTITIONED,
    observe_csvs,
    opened,
    project_resources,
    rewrite_csv,
)


def test_weekly_schedule_refreshes_joined_data_and_everything_upstream_on_mondays():
    job = defs.resolve_job_def(weekly_update_schedule.job_name)

    assert weekly_update_schedule.cron_schedule == "0 0 * * 1"
    assert {key.to_user_string() for key in job.asset_layer.selected_asset_keys} == set(
        UNPARTITIONED
    )


def test_automation_sensor_is_on_from_the_start_for_every_automated_asset():
    # Read from the repository Dagster builds, which replaces a sensor that misses an asset.
    sensor = defs.get_repository_def().get_sensor_def(automation_sensor.name)
    assert sensor.name == "default_automation_condition_sensor"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    # A tick that requests many partitions launches a backfill, which honours the backfill
    # policy (one run per partitioned asset), instead of one run per partition.
    assert sensor.emit_backfills
    # Each step of new data's way waits for a tick: every 10 s, not Dagster's 30 s.
    assert sensor.minimum_interval_seconds == 10
    graph = defs.resolve_asset_graph()
    automated = {key for key in graph.get_all_asset_keys() if graph.get(key).automation_condition}
    assert {key.to_user_string() for key in automated} == set(ALL_AUTOMATED)
    assert sensor.asset_selection.resolve(graph) >= automated


ALL_AUTOMATED = [
    *UNPARTITIONED,
    "monthly_sales_performance",
    "product_performance",
    "sales_overview",
]


class Automation:
    """The automation sensor's evaluation of the real definitions, tick after tick, against an
    instance of the test's own, with the observations and materializations recorded in it.

    Ticks are a second apart on a clock of their own, so a minute passes (and the CSVs are
    due to be observed) only when a test says so."""

    def __init__(self, database, csv_dir):
        self.instance = dg.DagsterInstance.ephemeral()
        self.resources = project_resources(database, csv_dir)
        self.cursor = None
        self.observation_cursor = None
        self.clock = datetime.now(timezone.utc).replace(second=0, microsecond=0)

    def tick(self, later=timedelta(seconds=1)) -> dict[str, set[str] | None]:
        """What this tick requests: each asset, with its partitions if it has any."""
        self.clock += later
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=self.instance, cursor=self.cursor, evaluation_time=self.clock
        )
        self.cursor = result.cursor
        requested = {}
        for key in defs.resolve_asset_graph().get_all_asset_keys():
            if result.get_num_requested(key):
                partitions = result.get_requested_partitions(key)
                requested[key.to_user_string()] = partitions if partitions != {None} else None
        return requested

    def observe(self):
        """One tick of csv_observation_sensor, its observations recorded in the instance as
        the sensor daemon records them, with no run."""
        tick = observe_csvs(self.instance, self.resources["csv_folder"], self.observation_cursor)
        self.observation_cursor = tick.cursor
        return tick

    def materialize(self, selection, **tags) -> dg.ExecuteInProcessResult:
        """A run at this automation's time: the partitions are those that exist then."""
        with dg.partition_loading_context(effective_dt=self.clock):
            return dg.materialize(
                ALL_ASSETS,
                selection=selection,
                instance=self.instance,
                resources=self.resources,
                raise_on_error=False,
                tags=tags,
            )

    def run(self, requested: dict[str, set[str] | None]) -> None:
        """Materializes what a tick requested: each partitioned asset as one run of all its
        requested partitions, as the single-run backfill policy runs them, the others in one."""
        unpartitioned = [asset for asset, partitions in requested.items() if partitions is None]
        results = [self.materialize(unpartitioned)] if unpartitioned else []
        for asset, partitions in requested.items():
            if partitions is not None:
                with dg.partition_loading_context(effective_dt=self.clock):
                    node = defs.resolve_asset_graph().get(dg.AssetKey(asset))
                    order = node.partitions_def.get_partition_keys()
                keys = sorted(partitions, key=order.index)
                range_tags = {
                    "dagster/asset_partition_range_start": keys[0],
                    "dagster/asset_partition_range_end": keys[-1],
                }
                results.append(self.materialize([asset], **range_tags))
        assert all(result.success for result in results)

    def run_waves(self, *waves: dict[str, set[str] | None]) -> None:
        """Ticks, checking that each requests the next of `waves`, and runs what it requested."""
        for wave in waves:
            requested = self.tick()
            assert requested == wave
            self.run(requested)


EVERY_PARTITION = {
    # Every month, not only the latest: new joined_data may change any of them.
    "monthly_sales_performance": set(MONTHS),
    "product_performance": set(CATEGORIES),
}
INGESTION = {"products": None, "sales_reps": None, "sales_data": None}
# What the first observation of every CSV builds, tick after tick.
FIRST_BUILD = [{**INGESTION, "joined_data": None}, EVERY_PARTITION, {"sales_overview": None}]


# A sequence of ticks and runs, each run a materialization of its own: seconds.
@pytest.mark.slow
def test_new_joined_data_requests_every_month_and_every_category(database, csv_dir):
    automation = Automation(database, csv_dir)
    assert automation.tick() == {}

    automation.materialize(UNPARTITIONED)

    assert automation.tick() == EVERY_PARTITION
    assert automation.tick() == {}


# A sequence of ticks and runs, each run a materialization of its own: seconds.
@pytest.mark.slow
def test_a_refused_join_requests_nothing_downstream_and_a_passing_rerun_requests_again(
    database, csv_dir
):
    automation = Automation(database, csv_dir)
    automation.materialize(UNPARTITIONED)
    automation.tick()
    good_sales = (csv_dir / "sales_data.csv").read_bytes()
    rewrite_csv(csv_dir / "sales_data.csv", lambda rows: rows[1].__setitem__(3, "R99"))

    refused = automation.materialize(UNPARTITIONED)

    assert not refused.success
    # sales_data loaded and is newer than the last join, which eager() asks for once more;
    # nothing is built from the refused join.
    assert automation.tick() == {"joined_data": None}
    assert automation.tick() == {}
    (csv_dir / "sales_data.csv").write_bytes(good_sales)
    assert automation.materialize(UNPARTITIONED).success
    assert automation.tick() == EVERY_PARTITION


def _report_joined_data_checks(instance, **passed: bool) -> None:
    """Records evaluations of joined_data's checks against its latest materialization."""
    (latest,) = instance.fetch_materializations(dg.AssetKey("joined_data"), limit=1).records
    for check_name, check_passed in passed.items():
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("joined_data"),
                check_name=check_name,
                passed=check_passed,
                blocking=True,
                metadata={},
                target_materialization_data=AssetCheckEvaluationTargetMaterializationData(
                    storage_id=latest.storage_id,
                    run_id=latest.run_id,
                    timestamp=latest.timestamp,
                ),
            )
        )


# A sequence of ticks and runs, each run a materialization of its own: seconds.
@pytest.mark.slow
def test_a_failed_blocking_check_upstream_holds_back_automation_until_it_passes(database, csv_dir):
    """joined_data materialized with a failed blocking check, as a run outside this code
    location could record it: eager() alone would rebuild the partitions from it."""
    automation = Automation(database, csv_dir)
    automation.materialize(UNPARTITIONED)
    automation.tick()
    automation.instance.report_runless_asset_event(dg.AssetMaterialization("joined_data"))
    _report_joined_data_checks(
        automation.instance,
        missing_dimension_check=False,
        one_joined_row_per_sale=True,
        counted_in_a_month_and_a_category=True,
    )

    assert automation.tick() == {}

    _report_joined_data_checks(automation.instance, missing_dimension_check=True)
    assert automation.tick() == EVERY_PARTITION


# Ticks and runs across the end of a month, on the automation's own clock: seconds.
@pytest.mark.slow
def test_when_a_month_ends_its_successor_is_built_and_counts_its_sales(database, csv_dir):
    automation = Automation(database, csv_dir)
    this_month = automation.clock.replace(day=1, hour=0, minute=0)
    next_month = (this_month + timedelta(days=32)).replace(day=1)
    automation.clock = next_month - timedelta(minutes=1)
    assert automation.tick() == {}
    automation.observe()
    automation.run_waves(*FIRST_BUILD)
    assert automation.tick() == {}

    # Midnight passes: the new month is a partition, missing, and is built (with no sales yet).
    new_key = f"{next_month:%Y-%m-%d}"
    requested = automation.tick(later=timedelta(minutes=2))
    assert requested == {"monthly_sales_performance": {new_key}}
    automation.run(requested)
    assert automation.tick() == {"sales_overview": None}
    automation.run({"sales_overview": None})

    # A sale dated on its first day is accepted, and counted in it.
    with (csv_dir / "sales_data.csv").open("a", encoding="utf-8") as f:
        f.write(f"900001,{next_month:%Y-%m-%d},P001,R01,Walk-in Customer,2,12.34\n")
    automation.observe()
    automation.run_waves(
        {"sales_data": None, "joined_data": None},
        {**EVERY_PARTITION, "monthly_sales_performance": {*MONTHS, new_key}},
    )
    with opened(database) as conn:
        rows = conn.execute(
            "select * from monthly_sales_performance where partition_date = ?",
            [f"{next_month:%Y-%m}"],
        ).fetchall()
    assert set(rows) == {
        row for row in expected.monthly_sales_performance(csv_dir) if row[0] == new_key[:7]
    }
    assert len(rows) == 1


# The CSVs as observable sources


SOURCES = ["products_csv", "sales_reps_csv", "sales_data_csv"]


def _observed(tick) -> dict[str, tuple[str, dict]]:
    """Each source a tick observed: its data version and its observation's metadata."""
    observed = {}
    for observation in tick.asset_events:
        metadata = {key: value.value for key, value in observation.metadata.items()}
        observed[observation.asset_key.to_user_string()] = (observation.data_version, metadata)
    return observed


def test_an_observation_records_a_hash_of_the_files_content_its_path_and_size(database, csv_dir):
    automation = Automation(database, csv_dir)

    tick = automation.observe()

    observed = _observed(tick)
    assert set(observed) == set(SOURCES)
    for source, (version, metadata) in observed.items():
        path = csv_dir / f"{source.removesuffix('_csv')}.csv"
        assert version == hashlib.sha256(path.read_bytes()).hexdigest()
        assert metadata == {"dagster/uri": str(path), "size_bytes": path.stat().st_size}
    # Recorded without a run, as the sensor daemon records them.
    assert not tick.run_requests
    for source, (version, _) in observed.items():
        (record,) = automation.instance.fetch_observations(dg.AssetKey(source), limit=1).records
        assert record.asset_observation.data_version == version


def test_the_whole_of_a_large_file_is_hashed(tmp_path):
    """A file read in several chunks: a change after the first is a new version."""
    path = tmp_path / "sales_data.csv"
    path.write_bytes(b"x" * 3_000_000)
    before = observe_csv(path)
    path.write_bytes(b"x" * 2_999_999 + b"y")

    after = observe_csv(path)

    assert after.data_version != before.data_version
    assert after.data_version.value == hashlib.sha256(path.read_bytes()).hexdigest()
    assert after.metadata["size_bytes"] == 3_000_000


def _an_hour_ago(*paths) -> int:
    """Sets the files' modification time an hour back, out of the racy window; returns it."""
    past = time.time_ns() - 3600 * 10**9
    for path in paths:
        os.utime(path, ns=(past, past))
    return past


def test_an_unchanged_csv_is_not_hashed_again_and_records_nothing(database, csv_dir, monkeypatch):
    automation = Automation(database, csv_dir)
    past = _an_hour_ago(*csv_dir.iterdir())
    automation.observe()
    hashed = []
    monkeypatch.setattr(
        csv_files, "observe_csv", lambda path: hashed.append(path.name) or observe_csv(path)
    )

    unchanged = automation.observe()
    assert (hashed, unchanged.asset_events) == ([], [])
    assert unchanged.skip_message == f"No CSV changed in {csv_dir}"

    # Written again with the same content: hashed, since its time changed, but the same data.
    path = csv_dir / "products.csv"
    path.write_bytes(path.read_bytes())
    os.utime(path, ns=(past, past + 10**9))
    rewritten = automation.observe()
    assert (hashed, rewritten.asset_events) == (["products.csv"], [])
    assert automation.tick() == {}
    assert (hashed, automation.observe().asset_events) == (["products.csv"], [])

    # New content of another size, with the same modification time: a change all the same.
    before = path.stat()
    path.write_bytes(path.read_bytes() + b"P999,Extra,Books,1.00\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert set(_observed(automation.observe())) == {"products_csv"}


def test_a_csv_changed_twice_within_one_tick_of_the_file_clock_is_observed(database, csv_dir):
    """Two writes of the same size can share a modification time; a file modified moments
    before a tick is hashed again at the next one, so the second write is not missed."""
    automation = Automation(database, csv_dir)
    path = csv_dir / "products.csv"
    path.write_bytes(path.read_bytes())  # modified just now
    automation.observe()
    written = path.stat()
    path.write_bytes(path.read_bytes().replace(b"Books", b"Bookz", 1))
    os.utime(path, ns=(written.st_atime_ns, written.st_mtime_ns))

    assert set(_observed(automation.observe())) == {"products_csv"}


def test_the_csvs_cause_no_run_while_they_do_not_change(database, csv_dir):
    """Nothing asks for an observation run: the sources have no automation condition, and the
    observation sensor requests none."""
    automation = Automation(database, csv_dir)
    assert automation.tick() == {}
    assert automation.tick(later=timedelta(minutes=5)) == {}
    graph = defs.resolve_asset_graph()
    assert not any(graph.get(dg.AssetKey(source)).automation_condition for source in SOURCES)
    sensor = defs.get_repository_def().get_sensor_def(csv_observation_sensor.name)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 10


def _append_sale(csv_dir, category: str) -> tuple:
    """Appends one sale of the first product of `category` to sales_data.csv; returns it."""
    products = expected.read_csv(csv_dir, "products")
    product = products[products["category"] == category].iloc[0]
    sales = expected.read_csv(csv_dir, "sales_data")
    sale = (int(sales["order_id"].max()) + 1, "2024-05-10", product["product_id"], "R01")
    with (csv_dir / "sales_data.csv").open("a", encoding="utf-8") as f:
        f.write(",".join(map(str, sale)) + ",Walk-in Customer,3,99.90\n")
    return sale


# Builds every table twice and the partitioned ones three times: seconds.
@pytest.mark.slow
def test_a_changed_csv_and_only_a_changed_csv_flows_through_every_partition(database, csv_dir):
    automation = Automation(database, csv_dir)
    # Before any observation there is nothing to build.
    assert automation.tick() == {}
    # The first observation of each file is new data: everything builds, in order.
    automation.observe()
    automation.run_waves(*FIRST_BUILD)
    assert automation.tick() == {}

    # Observed again unchanged: nothing recorded, and nothing to do.
    assert _observed(automation.observe()) == {}
    assert automation.tick() == {}

    _append_sale(csv_dir, "Books")
    assert set(_observed(automation.observe())) == {"sales_data_csv"}
    automation.run_waves({"sales_data": None, "joined_data": None}, EVERY_PARTITION)
    assert automation.tick() == {"sales_overview": None}
    with opened(database) as conn:
        books = conn.execute(
            "select * from product_performance where product_category = 'Books'"
        ).fetchall()
    assert set(books) == {row for row in expected.product_performance(csv_dir) if row[0] == "Books"}


def test_a_missing_csv_is_named_and_the_others_are_still_observed(database, csv_dir):
    automation = Automation(database, csv_dir)
    assert automation.tick() == {}
    products = (csv_dir / "products.csv").read_bytes()
    (csv_dir / "products.csv").unlink()

    tick = automation.observe()

    assert set(_observed(tick)) == {"sales_reps_csv", "sales_data_csv"}
    assert tick.skip_message == (
        "Observed new content in sales_reps.csv, sales_data.csv; "
        f"products.csv not found: expected it at {csv_dir / 'products.csv'}"
    )
    # Nothing is built from the missing file; once it is back it is observed.
    assert automation.tick() == {"sales_reps": None, "sales_data": None}
    (csv_dir / "products.csv").write_bytes(products)
    assert set(_observed(automation.observe())) == {"products_csv"}


def test_a_csv_that_cannot_be_read_is_named_in_the_tick(database, csv_dir):
    automation = Automation(database, csv_dir)
    (csv_dir / "products.csv").unlink()
    (csv_dir / "products.csv").mkdir()

    tick = automation.observe()

    assert "products_csv" not in _observed(tick)
    assert f"products.csv could not be read at {csv_dir / 'products.csv'}: Is a directory" in (
        tick.skip_message
    )


def test_a_csv_put_back_as_it_was_is_new_data_again(database, csv_dir):
    """README's exercise ends with `git checkout data/sales_data.csv`: the shipped content
    comes back, and the tables must follow it back, though they saw that version before."""
    automation = Automation(database, csv_dir)
    path = csv_dir / "sales_data.csv"
    shipped = path.read_bytes()
    (first,) = _observed(automation.observe())["sales_data_csv"][:1]
    _append_sale(csv_dir, "Books")
    (appended,) = _observed(automation.observe())["sales_data_csv"][:1]

    path.write_bytes(shipped)
    put_back = _observed(automation.observe())

    assert appended != first
    assert set(put_back) == {"sales_data_csv"}
    assert put_back["sales_data_csv"][0] == first
    assert _observed(automation.observe()) == {}


def test_a_csv_that_cannot_be_read_is_logged_each_tick_until_it_can(database, csv_dir, capfd):
    """The sensor's log (the daemon's, under `dagster dev`) warns of the file at each tick."""
    automation = Automation(database, csv_dir)
    path = csv_dir / "products.csv"
    content = path.read_bytes()
    path.unlink()
    warning = f"WARNING - products.csv not found: expected it at {path}"

    for _ in range(2):
        automation.observe()
        assert capfd.readouterr().err.count(warning) == 1

    path.write_bytes(content)
    assert "products_csv" in _observed(automation.observe())
    assert "WARNING" not in capfd.readouterr().err


def test_the_first_build_starts_when_the_csvs_were_observed_before_automation_first_ran(
    database, csv_dir
):
    """On a new instance the observation sensor may tick before automation's first
    evaluation, which sees no update: the missing tables are still built at the next one."""
    automation = Automation(database, csv_dir)
    automation.observe()
    assert automation.tick() == {}
    assert automation.tick() == FIRST_BUILD[0]
