"""Ad hoc requests: the sensor that turns request files into runs, what its ticks show, and
the report each run materializes."""

import json
import os
from datetime import date

import dagster as dg
import pytest

from etl_tutorial.adhoc import RequestFolder
from etl_tutorial.definitions import adhoc_request_sensor, defs
from etl_tutorial.paths import PROJECT_DIR
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import markdown_table, project_resources

# A request the sample data answers with several reps.
SAMPLE_REQUEST = {
    "department": "Enterprise",
    "product": "4K Monitor",
    "start_date": "2024-01-01",
    "end_date": "2024-07-01",
}


def _write_request(folder, name, content, mtime=None):
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _tick(folder, cursor=None):
    """One evaluation of the sensor as the daemon makes it: `skip_message` is what the tick
    shows when it requests no run."""
    return adhoc_request_sensor.evaluate_tick(
        dg.build_sensor_context(
            cursor=cursor, resources={"request_folder": RequestFolder(path=str(folder))}
        )
    )


def _adhoc_tags(run: dg.RunRequest) -> dict[str, str]:
    return {key: value for key, value in run.tags.items() if key.startswith("adhoc/")}


# The sensor


def test_sensor_requests_one_run_per_new_or_changed_file(tmp_path):
    first = _write_request(tmp_path, "first.json", SAMPLE_REQUEST, mtime=1_000)
    _write_request(tmp_path, "notes.txt", "not a request")

    new = _tick(tmp_path)
    (run,) = new.run_requests
    assert run.run_key == "first.json:1000.0"
    assert run.run_config["ops"]["adhoc_request"]["config"] == SAMPLE_REQUEST

    unchanged = _tick(tmp_path, new.cursor)
    assert unchanged.run_requests == []
    assert unchanged.skip_message == f"No new or changed request file in {tmp_path}"

    _write_request(tmp_path, "first.json", {**SAMPLE_REQUEST, "product": "Clean SQL"}, mtime=2_000)
    _write_request(tmp_path, "second.json", SAMPLE_REQUEST, mtime=1_500)
    changed = _tick(tmp_path, unchanged.cursor)
    assert [r.run_key for r in changed.run_requests] == ["first.json:2000.0", "second.json:1500.0"]
    assert changed.run_requests[0].run_config["ops"]["adhoc_request"]["config"]["product"] == (
        "Clean SQL"
    )
    assert json.loads(changed.cursor) == {"first.json": 2000.0, "second.json": 1500.0}
    assert first.exists()


def test_a_run_is_tagged_with_its_request_file_and_every_field(tmp_path):
    _write_request(tmp_path, "q1.json", {**SAMPLE_REQUEST, "product": "Clean SQL"})

    (run,) = _tick(tmp_path).run_requests

    assert _adhoc_tags(run) == {
        "adhoc/file": "q1.json",
        "adhoc/department": "Enterprise",
        "adhoc/product": "Clean SQL",
        "adhoc/start_date": "2024-01-01",
        "adhoc/end_date": "2024-07-01",
    }


def test_hostile_long_or_unicode_request_values_are_tagged_exactly(tmp_path):
    request = {
        **SAMPLE_REQUEST,
        "department": "x'; drop table sales_data; --\n<b>",
        "product": "Café Society " * 20,
    }
    _write_request(tmp_path, "Q3 report (final).json", request)
    _write_request(tmp_path, "日本.json", SAMPLE_REQUEST)

    tagged, unicode_named = _tick(tmp_path).run_requests

    assert _adhoc_tags(tagged) == {
        "adhoc/file": "Q3 report (final).json",
        **{f"adhoc/{field}": value for field, value in request.items()},
    }
    assert _adhoc_tags(unicode_named)["adhoc/file"] == "日本.json"
    assert tagged.run_config["ops"]["adhoc_request"]["config"] == request


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


def _assert_reported(tick, log: list[str]):
    """Each bad file is named with its problem in the tick's skip reason and a warning line."""
    reasons = tick.skip_message.splitlines()
    assert len(reasons) == len(BAD_REQUESTS)
    for name, (_, problem) in BAD_REQUESTS.items():
        (reason,) = [line for line in reasons if line.startswith(f"Skipping request file {name}:")]
        assert problem in reason, reason
        (line,) = [line for line in log if f"WARNING - Skipping request file {name}:" in line]
        assert problem in line, line


def test_skipped_files_are_the_ticks_skip_reason_and_warnings_in_its_log(tmp_path, capsys):
    for name, (content, _) in BAD_REQUESTS.items():
        _write_request(tmp_path, name, content)

    tick = _tick(tmp_path)

    assert tick.run_requests == []
    # The sensor's log goes to Dagster's own handler, which writes to stderr.
    _assert_reported(tick, capsys.readouterr().err.splitlines())
    # Bad files are remembered too: they are not reported again until they change.
    again = _tick(tmp_path, tick.cursor)
    assert again.run_requests == [] and "Skipping" not in capsys.readouterr().err
    assert again.skip_message == f"No new or changed request file in {tmp_path}"


def test_a_tick_with_runs_leaves_skipped_files_to_the_next_ticks_skip_reason(tmp_path, capsys):
    """A tick shows its runs or a skip reason, not both: the good files run at once, and the
    next tick, with no run to show, reports the bad ones."""
    for name, (content, _) in BAD_REQUESTS.items():
        _write_request(tmp_path, name, content)
    _write_request(tmp_path, "good.json", SAMPLE_REQUEST, mtime=3_000)

    with_runs = _tick(tmp_path)

    assert [r.run_key for r in with_runs.run_requests] == ["good.json:3000.0"]
    assert with_runs.skip_message is None
    assert json.loads(with_runs.cursor) == {"good.json": 3000.0}
    assert "Skipping" not in capsys.readouterr().err

    reporting = _tick(tmp_path, with_runs.cursor)
    assert reporting.run_requests == []
    _assert_reported(reporting, capsys.readouterr().err.splitlines())
    assert set(json.loads(reporting.cursor)) == {"good.json", *BAD_REQUESTS}
    assert _tick(tmp_path, reporting.cursor).run_requests == []
    assert "Skipping" not in capsys.readouterr().err


def test_sensor_with_no_request_folder_requests_nothing(tmp_path):
    tick = _tick(tmp_path / "requests")
    assert tick.run_requests == []
    assert tick.skip_message == f"No new or changed request file in {tmp_path / 'requests'}"


# The report


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


def _metadata(result) -> dict[str, object]:
    (event,) = result.get_asset_materialization_events()
    return {key: value.value for key, value in event.materialization.metadata.items()}


def _failure(result) -> str:
    assert not result.success
    assert result.get_asset_materialization_events() == []
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.user_failure_data.description


def test_adhoc_request_reports_totals_equal_to_an_independent_computation(
    published, materialize, csv_dir
):
    result = _adhoc(materialize, SAMPLE_REQUEST)

    metadata = _metadata(result)
    table = markdown_table(metadata["result"])
    want = _independent_adhoc(csv_dir, SAMPLE_REQUEST)
    assert len(want) > 1
    assert table.headers == expected.ADHOC_REPORT_COLUMNS
    # Largest total first, as a sales manager reads it.
    assert table.rows == [
        [department, rep, product, str(units), f"{dollars:,.2f}"]
        for department, rep, product, units, dollars in sorted(want, key=lambda r: (-r[4], r[1]))
    ]
    assert metadata["dagster/row_count"] == len(want)
    assert metadata["summary"] == (
        f"{len(want)} reps of Enterprise sold 4K Monitor "
        "from 2024-01-01 up to 2024-07-01 (end date excluded)."
    )


def test_a_run_launched_without_a_file_or_config_reports_the_sample_request(published, materialize):
    """What "Materialize" in the UI does: no config, so the defaults (the shipped sample
    request), and no request file."""
    metadata = _metadata(materialize(["adhoc_request"]))

    shipped = json.loads((PROJECT_DIR / "etl_tutorial" / "sample_request.json").read_text())
    assert sorted(shipped) == ["department", "end_date", "product", "start_date"]
    assert {key: metadata[key] for key in shipped} == shipped
    assert "request_file" not in metadata
    assert metadata["dagster/row_count"] > 0


def test_a_run_from_a_request_file_shows_the_request_in_its_tags_and_metadata(
    published, database, csv_dir, instance, tmp_path
):
    folder = tmp_path / "requests"
    folder.mkdir()
    request = {**SAMPLE_REQUEST, "start_date": "2024-03-01"}
    _write_request(folder, "march on.json", request)
    (run,) = _tick(folder).run_requests

    # The sensor's run request, launched as the daemon launches it: its job, config and tags.
    result = defs.resolve_job_def("adhoc_request_job").execute_in_process(
        run_config=run.run_config,
        tags=run.tags,
        instance=instance,
        resources=project_resources(database, csv_dir),
    )

    assert result.dagster_run.tags["adhoc/file"] == "march on.json"
    assert result.dagster_run.tags["adhoc/start_date"] == "2024-03-01"
    metadata = _metadata(result)
    assert {key: metadata[key] for key in request} == request
    assert metadata["request_file"] == "march on.json"


def test_a_department_or_product_not_in_the_data_fails_naming_it_and_the_nearest(
    published, materialize, csv_dir, changed_since_published
):
    joined = expected.joined_data(csv_dir)
    assert {"Enterprise", "Small Business"} <= set(joined["department"])
    assert {"4K Monitor"} <= set(joined["product_name"])

    misspelt = _adhoc(
        materialize, {**SAMPLE_REQUEST, "department": "Enterprize"}, raise_on_error=False
    )
    assert _failure(misspelt).startswith(
        "The department 'Enterprize' is not in joined_data (nearest: 'Enterprise', "
    )

    both = _adhoc(
        materialize,
        {**SAMPLE_REQUEST, "department": "small business", "product": "4k monitors"},
        raise_on_error=False,
    )
    message = _failure(both)
    assert "The department 'small business' is not in joined_data (nearest: " in message
    assert "'Small Business'" in message
    assert "The product '4k monitors' is not in joined_data (nearest: '4K Monitor'" in message
    assert changed_since_published() == []


def test_known_names_without_sales_in_the_dates_report_zero_rows_plainly(
    published, materialize, csv_dir
):
    request = {**SAMPLE_REQUEST, "start_date": "2019-01-01", "end_date": "2019-02-01"}
    joined = expected.joined_data(csv_dir)
    assert "Enterprise" in set(joined["department"]) and "4K Monitor" in set(joined["product_name"])
    assert _independent_adhoc(csv_dir, request) == set()

    metadata = _metadata(_adhoc(materialize, request))

    assert metadata["dagster/row_count"] == 0
    assert markdown_table(metadata["result"]).rows == []
    assert metadata["summary"] == (
        "No rep of Enterprise sold 4K Monitor from 2019-01-01 up to 2019-02-01 (end date excluded)."
    )


def test_adhoc_request_rejects_unknown_fields_and_backwards_dates(published, materialize):
    with pytest.raises(dg.DagsterInvalidConfigError, match="region"):
        _adhoc(materialize, {**SAMPLE_REQUEST, "region": "EU"})
    backwards = {**SAMPLE_REQUEST, "start_date": "2024-07-01", "end_date": "2024-01-01"}
    result = _adhoc(materialize, backwards, raise_on_error=False)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "end_date 2024-01-01 is not after start_date 2024-07-01" in (
        failure.step_failure_data.error.to_string()
    )


def test_hostile_request_values_are_data_not_sql(published, materialize, changed_since_published):
    hostile = "x'; drop table sales_data; --"

    result = _adhoc(
        materialize,
        {**SAMPLE_REQUEST, "department": hostile, "product": hostile},
        raise_on_error=False,
    )

    message = _failure(result)
    assert f"The department {hostile!r} is not in joined_data" in message
    assert f"The product {hostile!r} is not in joined_data" in message
    assert changed_since_published() == []
