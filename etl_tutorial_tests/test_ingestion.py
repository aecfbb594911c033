import re
from datetime import date
from decimal import Decimal

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from etl_tutorial.definitions import defs
from etl_tutorial.sources import DATA_DIR, CsvFolder
from etl_tutorial_tests.expected import read_csv

CSV_TYPES = {
    "products": {"price": Decimal},
    "sales_reps": {"hire_date": date.fromisoformat},
    "sales_data": {
        "order_id": int,
        "date": date.fromisoformat,
        "quantity": int,
        "dollar_amount": Decimal,
    },
}


@pytest.mark.parametrize("table", ["products", "sales_reps", "sales_data"])
def test_each_csv_loads_row_for_row_with_exact_types(table, materialize, query, csv_dir):
    result = materialize([table])

    converters = CSV_TYPES[table]
    expected = [
        tuple(converters.get(column, str)(value) for column, value in row.items())
        for row in read_csv(csv_dir / f"{table}.csv")
    ]
    assert query(f"select * from {table}") == expected  # noqa: S608
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["dagster/row_count"].value == len(expected)


def test_names_with_quotes_accents_and_commas_survive_the_round_trip(materialize, query):
    materialize(["products", "sales_reps", "sales_data"])

    product_names = {name for (name,) in query("select product_name from products")}
    assert 'Laptop Stand, Aluminium 15"' in product_names
    assert "Kids' Rain Boots" in product_names
    assert {"Seán O'Brien", "Zoë Müller"} <= {
        n for (n,) in query("select rep_name from sales_reps")
    }
    assert ("Smith, Jones & Co.",) in query("select distinct customer_name from sales_data")


def test_money_is_decimal_and_metadata_shows_it_plainly(materialize):
    result = materialize(["sales_data"])

    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    columns = {c.name: c.type for c in metadata["dagster/column_schema"].value.columns}
    assert columns["dollar_amount"] == "DECIMAL(18,2)"
    assert columns["date"] == "DATE"
    preview = metadata["preview"].value
    assert len(preview.splitlines()) == 2 + 10  # header, separator, ten rows
    assert not re.search(r"\d[eE][+-]?\d", preview)
    assert re.search(r"\| \d+\.\d\d +\|", preview)


def test_default_csv_folder_is_found_from_any_working_directory(
    tmp_path, monkeypatch, database, query
):
    monkeypatch.chdir(tmp_path)

    dg.materialize(
        list(defs.assets),
        selection=["products"],
        # The shipped default, not the tests' copy: a path relative to the working
        # directory would not be found from tmp_path.
        resources={"duckdb": DuckDBResource(database=str(database)), "csv_folder": CsvFolder()},
    )

    assert query("select count(*) from products") == [(len(read_csv(DATA_DIR / "products.csv")),)]
