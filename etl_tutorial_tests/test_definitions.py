import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.declarative_automation.operators.boolean_operators import (
    AndAutomationCondition,
)
from dagster_duckdb import DuckDBResource

from etl_tutorial.csv_files import CSV_COLUMNS
from etl_tutorial.definitions import defs, executor, resources, weekly_update_schedule
from etl_tutorial.lake import DuckLakeResource, extension_file
from etl_tutorial.paths import PROJECT_DIR
from etl_tutorial_tests.expected import read_csv

# Every asset, its group and its kinds; tables are also the name of a DuckDB table.
ASSET_GROUPS = {
    "products": "ingestion",
    "sales_reps": "ingestion",
    "sales_data": "ingestion",
    "joined_data": "joins",
    "monthly_sales_performance": "analysis",
    "product_performance": "analysis",
    "sales_overview": "analysis",
    "adhoc_request": "analysis",
}
TABLES = ASSET_GROUPS.keys() - {"sales_overview", "adhoc_request"}
CSV_SOURCES = {"products_csv", "sales_reps_csv", "sales_data_csv"}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_every_asset_has_its_group_kind_pool_and_description():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == set(ASSET_GROUPS) | CSV_SOURCES
    for name, group in ASSET_GROUPS.items():
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == group, name
        assert "duckdb" in node.kinds, name
        assert node.pools == {"duckdb"}, name
        assert node.description and "\n" not in node.description.strip(), name
    assert graph.get(dg.AssetKey("sales_overview")).kinds == {"duckdb", "matplotlib"}


def test_every_table_names_its_table_and_every_asset_links_to_its_function():
    graph = defs.resolve_asset_graph()
    for name in ASSET_GROUPS:
        metadata = graph.get(dg.AssetKey(name)).metadata
        if name in TABLES:
            assert metadata["dagster/table_name"] == f"main.{name}"
        (reference,) = metadata["dagster/code_references"].code_references
        assert Path(reference.file_path) == PROJECT_DIR / "etl_tutorial" / "definitions.py"
        # The reference is the decorator's line; the function it decorates follows.
        lines = Path(reference.file_path).read_text().splitlines()[reference.line_number - 1 :]
        assert lines[0].startswith("@dg.asset("), (name, lines[0])
        function = next(line for line in lines if line.startswith("def "))
        assert function.startswith(f"def {name}("), (name, function)


CHECKS = {
    "products": {
        "product_id_not_null",
        "category_not_null",
        "price_not_null",
        "product_id_is_unique",
        "category_is_a_partition",
    },
    "sales_reps": {"rep_id_not_null", "hire_date_not_null", "rep_id_is_unique"},
    "sales_data": {
        "order_id_not_null",
        "date_not_null",
        "product_id_not_null",
        "rep_id_not_null",
        "quantity_not_null",
        "dollar_amount_not_null",
        "order_id_is_unique",
        "date_is_in_a_partition",
        "no_negative_sales",
    },
    "joined_data": {
        "missing_dimension_check",
        "one_joined_row_per_sale",
        "counted_in_a_month_and_a_category",
    },
    "monthly_sales_performance": {"totals_match_joined_data"},
    "product_performance": {"totals_match_joined_data"},
}


def test_every_table_declares_its_blocking_described_checks():
    graph = defs.resolve_asset_graph()
    found: dict[str, set[str]] = {}
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        found.setdefault(key.asset_key.to_user_string(), set()).add(key.name)
        assert spec.blocking, key
        assert spec.description, key
    assert found == CHECKS


def test_every_automated_asset_waits_for_every_blocking_check_upstream():
    graph = defs.resolve_asset_graph()
    automated = [*(set(ASSET_GROUPS) - {"adhoc_request"})]
    for name in automated:
        condition = graph.get(dg.AssetKey(name)).automation_condition
        # Both must hold: the guard is one operand of an `&`, not of an `|`.
        assert isinstance(condition, AndAutomationCondition), name
        labels = [child.get_label() for child in condition.children]
        assert labels[-1] == "all_deps_blocking_checks_passed", name


def test_the_tables_the_weekly_schedule_refreshes_warn_after_a_week_and_fail_a_day_later():
    graph = defs.resolve_asset_graph()
    assert weekly_update_schedule.cron_schedule == "0 0 * * 1"
    for name in ("joined_data", "sales_overview"):
        policy = graph.get(dg.AssetKey(name)).freshness_policy
        warn, fail = policy.warn_window.to_timedelta(), policy.fail_window.to_timedelta()
        assert timedelta(days=7) < warn < fail <= timedelta(days=8), name


def _months_since_january_2024(day: date) -> int:
    """How many months from January 2024 to `day`'s month, both included."""
    return (day.year - 2024) * 12 + day.month


def test_partitioned_assets_backfill_in_a_single_run(sample_csvs):
    graph = defs.resolve_asset_graph()
    monthly = graph.get(dg.AssetKey("monthly_sales_performance"))
    category = graph.get(dg.AssetKey("product_performance"))
    # Every month from January 2024, the month in progress (in UTC) included.
    months = monthly.partitions_def.get_partition_keys()
    assert months[0] == "2024-01-01"
    today = datetime.now(timezone.utc).date()
    assert months[-1] == f"{today:%Y-%m}-01"
    assert len(months) == len(set(months)) == _months_since_january_2024(today)
    # The categories are stated once, as the partitions; the sample products use each of them.
    sample = set(read_csv(sample_csvs, "products")["category"])
    assert set(category.partitions_def.get_partition_keys()) == sample
    for node in (monthly, category):
        assert node.backfill_policy == dg.BackfillPolicy.single_run()


def _locations(resources) -> list[str]:
    return [
        resources["duckdb"].database,
        resources["csv_folder"].path,
        resources["request_folder"].path,
        resources["chart_folder"].path,
    ]


def test_every_location_defaults_to_the_project_data_folder_from_any_directory(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert _locations(resources({})) == [
        str(PROJECT_DIR / "data" / "mydb.duckdb"),
        str(PROJECT_DIR / "data"),
        str(PROJECT_DIR / "data" / "requests"),
        str(PROJECT_DIR / "data" / "charts"),
    ]


def test_the_shipped_csvs_are_what_the_sample_generator_writes(sample_csvs):
    """data/ ships the generator's default output, so what the suite proves on generated CSVs
    holds for the files `make dev` loads. The shipped files are read as committed (git), never
    from the working tree, where a user's own edits belong."""
    for table in CSV_COLUMNS:
        try:
            committed = subprocess.run(
                ["git", "show", f"HEAD:data/{table}.csv"],
                cwd=PROJECT_DIR,
                capture_output=True,
                check=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError) as error:
            pytest.skip(f"the committed data/{table}.csv cannot be read from git: {error}")
        assert committed == (sample_csvs / f"{table}.csv").read_bytes(), table


def test_every_location_moves_with_its_environment_variable(tmp_path):
    moved = [
        str(tmp_path / "elsewhere.duckdb"),
        str(tmp_path / "csv"),
        str(tmp_path / "requests"),
        str(tmp_path / "charts"),
    ]
    settings = ("DUCKDB_DATABASE", "SALES_CSV_DIR", "ADHOC_REQUEST_DIR", "SALES_CHART_DIR")
    assert _locations(resources(dict(zip(settings, moved, strict=True)))) == moved


def test_a_named_lake_catalog_switches_the_warehouse_to_ducklake(tmp_path):
    catalog = "postgres:dbname=lake host=db.example port=5432 user=etl"
    lake = resources({"DUCKLAKE_CATALOG": catalog, "DUCKLAKE_DATA_PATH": str(tmp_path)})["duckdb"]
    assert isinstance(lake, DuckLakeResource)
    assert (lake.database, lake.data_path) == (catalog, str(tmp_path))
    assert type(resources({})["duckdb"]) is DuckDBResource
    with pytest.raises(ValueError, match="set DUCKLAKE_DATA_PATH"):
        resources({"DUCKLAKE_CATALOG": catalog})


def test_steps_share_the_run_process_with_one_file_and_run_apart_in_lake_mode(tmp_path):
    lake = {"DUCKLAKE_CATALOG": str(tmp_path / "catalog"), "DUCKLAKE_DATA_PATH": str(tmp_path)}
    assert executor({}) is dg.in_process_executor
    assert executor(lake) is dg.multiprocess_executor
    with pytest.raises(ValueError, match="set DUCKLAKE_CATALOG and DUCKLAKE_DATA_PATH"):
        executor({"DAGSTER_CELERY_BROKER": "redis://127.0.0.1:6379/0"})


CELERY_SETTINGS = {
    "DUCKLAKE_CATALOG": "catalog.ducklake",
    "DUCKLAKE_DATA_PATH": "parquet/",
    "DAGSTER_CELERY_BROKER": "redis://127.0.0.1:6379/0",
}


# dagster-celery is in the lake profile only.
@pytest.mark.lake
def test_a_named_broker_in_lake_mode_runs_steps_on_celery_workers(monkeypatch):
    dagster_celery = pytest.importorskip(
        "dagster_celery", reason="dagster-celery is in the lake profile: make test runs this there"
    )

    celery = executor(CELERY_SETTINGS)

    assert celery.name == "celery"
    assert celery.executor_creation_fn is dagster_celery.celery_executor.executor_creation_fn
    # The broker, which also keeps the results, is read from the environment when a run starts.
    monkeypatch.setenv("DAGSTER_CELERY_BROKER", "redis://broker.example:6379/0")
    config = celery.apply_config_mapping({}).value["config"]
    assert (config["broker"], config["backend"]) == ("redis://broker.example:6379/0",) * 2


def test_a_broker_outside_the_lake_profile_says_where_to_run_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "dagster_celery", None)
    with pytest.raises(RuntimeError, match=r"make install-lake"):
        executor(CELERY_SETTINGS)


def test_lake_mode_outside_its_profile_says_where_to_run_it(monkeypatch):
    import importlib

    def no_extension(name):
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", no_extension)
    with pytest.raises(RuntimeError, match=r"make install-lake"):
        extension_file("ducklake")


# Starts a Python process that imports the code location: seconds.
@pytest.mark.slow
def test_the_code_location_reads_its_locations_from_the_environment(tmp_path):
    settings = ("DUCKDB_DATABASE", "SALES_CSV_DIR", "ADHOC_REQUEST_DIR", "SALES_CHART_DIR")
    moved = [str(tmp_path / name.lower()) for name in settings]
    shown = subprocess.run(
        [sys.executable, "-c", LOCATIONS_OF_DEFS],
        env={**os.environ, **dict(zip(settings, moved, strict=True))},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown.splitlines() == moved


LOCATIONS_OF_DEFS = """
from etl_tutorial.definitions import defs
resources = defs.resources
print(resources["duckdb"].database)
print(resources["csv_folder"].path)
print(resources["request_folder"].path)
print(resources["chart_folder"].path)
"""
