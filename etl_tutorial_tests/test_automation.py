"""The weekly schedule, eager automation of the partitioned assets, and ad hoc requests."""

import json
import os
from datetime import date

import dagster as dg
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster_duckdb import DuckDBResource

from etl_tutorial.adhoc import RequestFolder
from etl_tutorial.definitions import (
    adhoc_request_sensor,
    automation_sensor,
    defs,
    monthly_partition,
    product_category_partition,
    weekly_update_schedule,
)
from etl_tutorial.sources import DATA_DIR, CsvFolder
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    ALL_ASSETS,
    PARTITIONED,
    UNPARTITIONED,
    markdown_table,
    rewrite_csv,
)

SAMPLE_REQUEST = json.loads((DATA_DIR / "sample_request" / "request.json").read_text())


def test_weekly_schedule_refreshes_joined_data_and_everything_upstream_on_mondays():
    job = defs.resolve_job_def(weekly_update_schedule.job_name)

    assert weekly_update_schedule.cron_schedule == "0 0 * * 1"
    assert {key.to_user_string() for key in job.asset_layer.selected_asset_keys} == set(
        UNPARTITIONED
    )


def test_automation_sensor_is_on_from_the_start():
    assert automation_sensor.name == "default_automation_condition_sensor"
    assert automation_sensor.default_status == dg.DefaultSensorStatus.RUNNING


class Automation:
    """The automation sensor's evaluation of the real definitions, tick after tick, against an
    instance of the test's own, and materializations recorded in that instance."""

    def __init__(self, database, csv_dir):
        self.instance = dg.DagsterInstance.ephemeral()
        self.resources = {
            "duckdb": DuckDBResource(database=str(database)),
            "csv_folder": CsvFolder(path=str(csv_dir)),
        }
        self.cursor = None

    def tick(self) -> dict[str, set[str]]:
        """The partitions requested on this tick, by asset."""
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=self.instance, cursor=self.cursor
        )
        self.cursor = result.cursor
        return {
            asset: result.get_requested_partitions(dg.AssetKey(asset))
            for asset in PARTITIONED
            if result.get_requested_partitions(dg.AssetKey(asset))
        }

    def materialize(self, selection) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            ALL_ASSETS,
            selection=selection,
            instance=self.instance,
            resources=self.resources,
            raise_on_error=False,
        )


LATEST_AND_EVERY_CATEGORY = {
    # eager() keeps the latest time window current; older months are a backfill away.
    "monthly_sales_performance": {monthly_partition.get_last_partition_key()},
    "product_performance": set(product_category_partition.get_partition_keys()),
}


def test_new_joined_data_requests_the_latest_month_and_every_category(database, csv_dir):
    automation = Automation(database, csv_dir)
    assert automation.tick() == {}

    automation.materialize(UNPARTITIONED)

    assert automation.tick() == LATEST_AND_EVERY_CATEGORY
    assert automation.tick() == {}


def test_a_refused_join_requests_nothing_and_a_passing_rerun_requests_again(database, csv_dir):
    automation = Automation(database, csv_dir)
    automation.materialize(UNPARTITIONED)
    automation.tick()
    good_sales = (csv_dir / "sales_data.csv").read_bytes()
    rewrite_csv(csv_dir / "sales_data.csv", lambda rows: rows[1].__setitem__(3, "R99"))

    refused = automation.materialize(UNPARTITIONED)

    assert not refused.success
    assert automation.tick() == {}
    (csv_dir / "sales_data.csv").write_bytes(good_sales)
    assert automation.materialize(UNPARTITIONED).success
    assert automation.tick() == LATEST_AND_EVERY_CATEGORY


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


def test_a_failed_blocking_check_upstream_holds_back_automation_until_it_passes(database, csv_dir):
    """joined_data materialized with a failed blocking check, as a run outside this code
    location could record it: eager() alone would rebuild the partitions from it."""
    automation = Automation(database, csv_dir)
    automation.materialize(UNPARTITIONED)
    automation.tick()
    automation.instance.report_runless_asset_event(dg.AssetMaterialization("joined_data"))
    _report_joined_data_checks(
        automation.instance, missing_dimension_check=False, one_joined_row_per_sale=True
    )

    assert automation.tick() == {}

    _report_joined_data_checks(automation.instance, missing_dimension_check=True)
    assert automation.tick() == LATEST_AND_EVERY_CATEGORY


def _context(folder, cursor=None):
    return dg.build_sensor_context(
        cursor=cursor, resources={"request_folder": RequestFolder(path=str(folder))}
    )


def _write_request(folder, name, content, mtime=None):
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_sensor_requests_one_run_per_new_or_changed_file(tmp_path):
    first = _write_request(tmp_path, "first.json", SAMPLE_REQUEST, mtime=1_000)
    _write_request(tmp_path, "notes.txt", "not a request")

    new = adhoc_request_sensor(_context(tmp_path))
    (run,) = new.run_requests
    assert run.run_key == "first.json:1000.0"
    assert run.run_config["ops"]["adhoc_request"]["config"] == SAMPLE_REQUEST

    unchanged = adhoc_request_sensor(_context(tmp_path, new.cursor))
    assert unchanged.run_requests == []

    _write_request(tmp_path, "first.json", {**SAMPLE_REQUEST, "product": "Clean SQL"}, mtime=2_000)
    _write_request(tmp_path, "second.json", SAMPLE_REQUEST, mtime=1_500)
    changed = adhoc_request_sensor(_context(tmp_path, unchanged.cursor))
    assert [r.run_key for r in changed.run_requests] == ["first.json:2000.0", "second.json:1500.0"]
    assert changed.run_requests[0].run_config["ops"]["adhoc_request"]["config"]["product"] == (
        "Clean SQL"
    )
    assert json.loads(changed.cursor) == {"first.json": 2000.0, "second.json": 1500.0}
    assert first.exists()


BAD_REQUESTS = {
    "broken.json": ('{"department": "Enterprise",', "not valid JSON"),
    "list.json": ("[1, 2]", "expected a JSON object"),
    "unknown_field.json": ({**SAMPLE_REQUEST, "region": "EU"}, "region: Extra inputs"),
    "missing_field.json": ({"department": "Enterprise"}, "missing product, start_date, end_date"),
    "backwards.json": (
        {**SAMPLE_REQUEST, "start_date": "2024-07-01", "end_date": "2024-01-01"},
        "end_date 2024-01-01 is not after start_date 2024-07-01",
    ),
    "impossible_date.json": (
        {**SAMPLE_REQUEST, "end_date": "2024-02-30"},
        "end_date: Value error, '2024-02-30' is not a day of the calendar",
    ),
    # Python alone reads 20240101 as a date too; README documents one format.
    "compact_date.json": (
        {**SAMPLE_REQUEST, "start_date": "2024-07-01", "end_date": "20240101"},
        "end_date: Value error, '20240101' is not a date written YYYY-MM-DD",
    ),
    "unpadded_date.json": (
        {**SAMPLE_REQUEST, "start_date": "2024-7-1"},
        "start_date: Value error, '2024-7-1' is not a date written YYYY-MM-DD",
    ),
}


def test_sensor_skips_malformed_files_with_a_log_line_and_still_runs_the_good_ones(
    tmp_path, capsys
):
    for name, (content, _) in BAD_REQUESTS.items():
        _write_request(tmp_path, name, content)
    _write_request(tmp_path, "good.json", SAMPLE_REQUEST, mtime=3_000)

    result = adhoc_request_sensor(_context(tmp_path))
    # The sensor's log goes to Dagster's own handler, which writes to stderr.
    log = capsys.readouterr().err.splitlines()

    assert [r.run_key for r in result.run_requests] == ["good.json:3000.0"]
    for name, (_, problem) in BAD_REQUESTS.items():
        (line,) = [line for line in log if f"WARNING - Skipping request file {name}:" in line]
        assert problem in line, line
    # Bad files are remembered too: they are not reported again until they change.
    again = adhoc_request_sensor(_context(tmp_path, result.cursor))
    assert again.run_requests == [] and "Skipping" not in capsys.readouterr().err


def test_sensor_with_no_request_folder_requests_nothing(tmp_path):
    result = adhoc_request_sensor(_context(tmp_path / "requests"))
    assert result.run_requests == []


def _independent_adhoc(csv_dir, request) -> set[tuple]:
    joined = expected.joined_data(csv_dir)
    dates = joined["date"].map(date.isoformat)
    chosen = joined[
        (joined["department"] == request["department"])
        & (joined["product_name"] == request["product"])
        & (dates >= request["start_date"])
        & (dates < request["end_date"])
    ]
    totals = chosen.groupby(["department", "rep_name", "product_name"]).agg(
        units=("quantity", "sum"), dollars=("dollar_amount", "sum")
    )
    return {
        (*key, int(units), dollars) for *key, units, dollars in expected.rows(totals.reset_index())
    }


def _adhoc(materialize, request, **kwargs):
    return materialize(
        ["adhoc_request"],
        run_config={"ops": {"adhoc_request": {"config": request}}},
        **kwargs,
    )


def test_adhoc_request_reports_totals_equal_to_an_independent_computation(materialize, csv_dir):
    materialize(UNPARTITIONED)

    result = _adhoc(materialize, SAMPLE_REQUEST)

    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    table = markdown_table(metadata["result"].value)
    want = _independent_adhoc(csv_dir, SAMPLE_REQUEST)
    assert len(want) > 1
    assert table.headers == [
        "department",
        "rep_name",
        "product_name",
        "units_sold",
        "total_dollar_amount",
    ]
    # Largest total first, as a sales manager reads it.
    assert table.rows == [
        [department, rep, product, str(units), f"{dollars:,.2f}"]
        for department, rep, product, units, dollars in sorted(want, key=lambda r: (-r[4], r[1]))
    ]
    assert metadata["dagster/row_count"].value == len(want)


def test_adhoc_request_rejects_unknown_fields_and_backwards_dates(materialize):
    materialize(UNPARTITIONED)

    with pytest.raises(dg.DagsterInvalidConfigError, match="region"):
        _adhoc(materialize, {**SAMPLE_REQUEST, "region": "EU"})
    backwards = {**SAMPLE_REQUEST, "start_date": "2024-07-01", "end_date": "2024-01-01"}
    result = _adhoc(materialize, backwards, raise_on_error=False)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "end_date 2024-01-01 is not after start_date 2024-07-01" in (
        failure.step_failure_data.error.to_string()
    )


def test_hostile_request_values_are_data_not_sql(materialize, query):
    materialize(UNPARTITIONED)
    tables = ["products", "sales_reps", "sales_data", "joined_data"]
    before = {t: query(f"select * from {t} order by all") for t in tables}  # noqa: S608
    hostile = "x'; drop table sales_data; --"

    result = _adhoc(materialize, {**SAMPLE_REQUEST, "department": hostile, "product": hostile})

    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["dagster/row_count"].value == 0
    assert {t: query(f"select * from {t} order by all") for t in tables} == before  # noqa: S608
