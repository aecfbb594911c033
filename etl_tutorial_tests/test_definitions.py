import os
import subprocess
import sys

import dagster as dg

from etl_tutorial.definitions import defs
from etl_tutorial.sources import DATA_DIR, PROJECT_DIR

ASSET_GROUPS = {
    "products": "ingestion",
    "sales_reps": "ingestion",
    "sales_data": "ingestion",
    "joined_data": "joins",
    "monthly_sales_performance": "analysis",
    "product_performance": "analysis",
    "adhoc_request": "analysis",
}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_every_asset_has_its_group_kind_pool_and_description():
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} == set(ASSET_GROUPS)
    for name, group in ASSET_GROUPS.items():
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == group, name
        assert node.kinds == {"duckdb"}, name
        assert node.pools == {"duckdb"}, name
        assert node.description and "\n" not in node.description.strip(), name


CHECKS = {
    ("products", "product_id_is_unique"),
    ("sales_reps", "rep_id_is_unique"),
    ("sales_data", "no_negative_sales"),
    ("joined_data", "missing_dimension_check"),
    ("joined_data", "one_joined_row_per_sale"),
}


def test_every_check_is_blocking_described_and_in_the_duckdb_pool():
    found = set()
    for checks_def in defs.asset_checks:
        assert checks_def.node_def.pool == "duckdb"
        for spec in checks_def.check_specs:
            found.add((spec.asset_key.to_user_string(), spec.name))
            assert spec.blocking, spec.name
            assert spec.description, spec.name
    assert found == CHECKS


def test_partitioned_assets_backfill_in_a_single_run():
    graph = defs.resolve_asset_graph()
    monthly = graph.get(dg.AssetKey("monthly_sales_performance"))
    category = graph.get(dg.AssetKey("product_performance"))
    assert monthly.partitions_def == dg.MonthlyPartitionsDefinition(start_date="2024-01-01")
    assert category.partitions_def.get_partition_keys() == [
        "Electronics",
        "Books",
        "Home and Garden",
        "Clothing",
    ]
    for node in (monthly, category):
        assert node.backfill_policy == dg.BackfillPolicy.single_run()


def _resource_config(env: dict[str, str], cwd) -> str:
    code = (
        "from etl_tutorial.definitions import defs\n"
        "print(defs.resources['duckdb'].database)\n"
        "print(defs.resources['csv_folder'].path)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def test_database_defaults_to_the_project_data_folder_from_any_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DUCKDB_DATABASE", "SALES_CSV_DIR")}
    database, csv_folder = _resource_config(env, cwd=tmp_path)
    assert database == str(DATA_DIR / "mydb.duckdb")
    assert csv_folder == str(PROJECT_DIR / "data")


def test_database_and_csv_folder_move_with_environment_variables(tmp_path):
    env = {
        **os.environ,
        "DUCKDB_DATABASE": str(tmp_path / "elsewhere.duckdb"),
        "SALES_CSV_DIR": str(tmp_path / "csv"),
    }
    assert _resource_config(env, cwd=tmp_path) == [
        str(tmp_path / "elsewhere.duckdb"),
        str(tmp_path / "csv"),
    ]
