"""The weekly schedule, eager automation of the partitioned assets, and ad hoc requests."""

import json
import os
from collections import defaultdict
from decimal import Decimal

import dagster as dg
import pytest
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
from etl_tutorial_tests.conftest import UNPARTITIONED

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


def test_new_joined_data_requests_the_latest_month_and_every_category(tmp_path, csv_dir):
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "duckdb": DuckDBResource(database=str(tmp_path / "automation.duckdb")),
        "csv_folder": CsvFolder(path=str(csv_dir)),
    }

    def evaluate(cursor=None):
        return dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)

    nothing_upstream = evaluate()
    assert nothing_upstream.total_requested == 0

    dg.materialize(
        list(defs.assets) + list(defs.asset_checks),
        selection=UNPARTITIONED,
        instance=instance,
        resources=resources,
    )
    after_join = evaluate(nothing_upstream.cursor)
    monthly = after_join.get_requested_partitions(dg.AssetKey("monthly_sales_performance"))
    categories = after_join.get_requested_partitions(dg.AssetKey("product_performance"))
    # eager() keeps the latest time window current; older months are a backfill away.
    assert monthly == {monthly_partition.get_last_partition_key()}
    assert categories == set(product_category_partition.get_partition_keys())

    unchanged = evaluate(after_join.cursor)
    assert unchanged.total_requested == 0


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
    "impossible_date.json": ({**SAMPLE_REQUEST, "end_date": "2024-02-30"}, "end_date:"),
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
    units: dict[tuple, int] = defaultdict(int)
    dollars: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in expected.joined_rows(csv_dir):
        if (
            row["department"] == request["department"]
            and row["product_name"] == request["product"]
            and request["start_date"] <= row["date"].isoformat() < request["end_date"]
        ):
            key = (row["department"], row["rep_name"], row["product_name"])
            units[key] += row["quantity"]
            dollars[key] += row["dollar_amount"]
    return {(*key, units[key], dollars[key]) for key in units}


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
    table = metadata["result"].value.splitlines()
    rows = {
        tuple(cell.strip() for cell in line.strip("|").split("|"))
        for line in table[2:]  # after the header and separator
    }
    want = _independent_adhoc(csv_dir, SAMPLE_REQUEST)
    assert len(want) > 1
    assert rows == {tuple(str(value) for value in row) for row in want}
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
