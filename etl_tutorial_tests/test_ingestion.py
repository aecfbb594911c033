import csv

import pytest

from etl_tutorial.csv_files import load_csv
from etl_tutorial.definitions import PRODUCT_CHECKS, SALES_CHECKS, SALES_REP_CHECKS
from etl_tutorial_tests.expected import read_csv, rows
from etl_tutorial_tests.helpers import (
    markdown_table,
    project_resources,
    rewrite_csv,
)


@pytest.mark.parametrize("table", ["products", "sales_reps", "sales_data"])
def test_each_csv_loads_row_for_row_with_exact_types(table, materialize, query, csv_dir):
    result = materialize([table])

    expected = rows(read_csv(csv_dir, table))
    assert query(f"select * from {table}") == expected  # noqa: S608
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["dagster/row_count"].value == len(expected)


def test_names_with_quotes_accents_and_commas_survive_the_round_trip(published, query):
    """The sample CSVs carry such names; `published` loaded them."""
    product_names = {name for (name,) in query("select product_name from products")}
    assert 'Laptop Stand, Aluminium 15"' in product_names
    assert "Kids' Rain Boots" in product_names
    assert {"Seán O'Brien", "Zoë Müller"} <= {
        n for (n,) in query("select rep_name from sales_reps")
    }
    assert ("Smith, Jones & Co.",) in query("select distinct customer_name from sales_data")


def test_money_is_decimal_and_metadata_shows_it_plainly(materialize, csv_dir):
    result = materialize(["sales_data"])

    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    columns = {c.name: c.type for c in metadata["dagster/column_schema"].value.columns}
    assert columns["dollar_amount"] == "DECIMAL(18,2)"
    assert columns["date"] == "DATE"
    preview = markdown_table(metadata["preview"].value)
    first_sales = read_csv(csv_dir, "sales_data").sort_values("order_id").head(10)
    assert preview.column("order_id") == [str(order_id) for order_id in first_sales["order_id"]]
    # Two decimals and thousands separators, never scientific notation.
    assert preview.column("dollar_amount") == [
        f"{amount:,.2f}" for amount in first_sales["dollar_amount"]
    ]
    assert {"order_id", "quantity", "dollar_amount"} <= preview.right_aligned


INGESTION_CHECKS = {
    "products": PRODUCT_CHECKS,
    "sales_reps": SALES_REP_CHECKS,
    "sales_data": SALES_CHECKS,
}


def _rewrite_all(csv_dir, *, encoding="utf-8", line_end="\n", quoting=csv.QUOTE_MINIMAL, tail=""):
    for table in ("products", "sales_reps", "sales_data"):
        path = csv_dir / f"{table}.csv"
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        with path.open("w", newline="", encoding=encoding) as f:
            csv.writer(f, lineterminator=line_end, quoting=quoting).writerows(rows)
            f.write(tail)


def _awkward_customers(csv_dir):
    """Customer names with the commas, quotes and line breaks a CRM export carries."""
    names = ['Smith, Jones & "Sons"', "Line one\nline two", "Trailing space ", '""']

    def edit(rows):
        for row, name in zip(rows[1:], names * 50, strict=False):
            row[4] = name

    rewrite_csv(csv_dir / "sales_data.csv", edit)


def _sort_data_rows(rows, key):
    rows[1:] = sorted(rows[1:], key=key)


DIALECTS = {
    "Windows line endings": lambda d: _rewrite_all(d, line_end="\r\n"),
    "byte-order mark": lambda d: _rewrite_all(d, encoding="utf-8-sig"),
    "every field quoted": lambda d: _rewrite_all(d, quoting=csv.QUOTE_ALL),
    "trailing empty line": lambda d: _rewrite_all(d, tail="\n"),
    "commas, quotes and line breaks in quoted fields": _awkward_customers,
    "sales in no particular order": lambda d: rewrite_csv(
        d / "sales_data.csv", lambda rows: _sort_data_rows(rows, key=lambda row: row[4])
    ),
    "all of them at once": lambda d: (
        _awkward_customers(d),
        _rewrite_all(d, encoding="utf-8-sig", line_end="\r\n", quoting=csv.QUOTE_ALL, tail="\r\n"),
    ),
}


@pytest.mark.parametrize("write", DIALECTS.values(), ids=DIALECTS.keys())
def test_valid_csv_as_other_tools_write_it_loads_row_for_row_to_the_cent(
    write, csv_dir, database, query
):
    write(csv_dir)

    # What each ingestion asset runs (test_each_csv_loads_... runs the assets themselves).
    for table, checks in INGESTION_CHECKS.items():
        found = project_resources(database, csv_dir)
        *_, materialization = load_csv(table, found["duckdb"], found["csv_folder"], checks)
        assert materialization.metadata["dagster/row_count"] > 0

    for table in INGESTION_CHECKS:
        loaded = query(f"select * from {table} order by all")  # noqa: S608
        assert loaded == sorted(rows(read_csv(csv_dir, table))), table
