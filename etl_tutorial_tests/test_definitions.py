import os
from pathlib import Path

import dagster as dg

from etl_tutorial.definitions import defs, resources
from etl_tutorial.sources import DATA_DIR, PROJECT_DIR
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


def test_every_table_names_its_table_and_every_asset_links_to_where_it_is_declared():
    graph = defs.resolve_asset_graph()
    for name in keys_of(graph):
        metadata = graph.get(dg.AssetKey(name)).metadata
        if name in TABLES:
            assert metadata["dagster/table_name"] == f"main.{name}"
        declarations = [
            _declaration(reference.file_path, reference.line_number)
            for reference in metadata["dagster/code_references"].code_references
        ]
        assert name in declarations, (name, declarations)


def _declaration(path: str, line_number: int) -> str:
    """The name a line declares: `name = factory(` there, or the next `def name(` from it
    (a decorator comes before its function)."""
    lines = Path(path).read_text().splitlines()[line_number - 1 :]
    if " = " in lines[0]:
        return lines[0].split(" = ")[0].strip()
    (definition,) = [line for line in lines if line.lstrip().startswith("def ")][:1]
    return definition.split("def ", 1)[1].split("(")[0]


def keys_of(graph) -> list[str]:
    return [key.to_user_string() for key in graph.get_all_asset_keys()]


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
    "joined_data": {"missing_dimension_check", "one_joined_row_per_sale"},
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
        labels = {child.get_label() for child in condition.children}
        assert "all_deps_blocking_checks_passed" in labels, name


def test_partitioned_assets_backfill_in_a_single_run():
    graph = defs.resolve_asset_graph()
    monthly = graph.get(dg.AssetKey("monthly_sales_performance"))
    category = graph.get(dg.AssetKey("product_performance"))
    assert monthly.partitions_def == dg.MonthlyPartitionsDefinition(start_date="2024-01-01")
    # The categories are stated once, as the partitions; the shipped products use each of them.
    shipped = set(read_csv(DATA_DIR, "products")["category"])
    assert set(category.partitions_def.get_partition_keys()) == shipped
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


def test_every_location_moves_with_its_environment_variable(tmp_path):
    moved = [
        str(tmp_path / "elsewhere.duckdb"),
        str(tmp_path / "csv"),
        str(tmp_path / "requests"),
        str(tmp_path / "charts"),
    ]
    settings = ("DUCKDB_DATABASE", "SALES_CSV_DIR", "ADHOC_REQUEST_DIR", "SALES_CHART_DIR")
    assert _locations(resources(dict(zip(settings, moved, strict=True)))) == moved


def test_the_definitions_use_the_locations_of_the_environment():
    assert _locations(defs.resources) == _locations(resources(os.environ))
