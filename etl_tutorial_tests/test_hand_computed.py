"""Hand-worked cases: six sales by two reps of two products, and every table they make, written
out by hand with the sums a reader can check in their head. The big oracle (expected.py) checks
the same tables against pandas over the generated sample CSVs; these pin what the rows mean."""

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    ALL_ASSETS,
    ALL_CATEGORIES,
    UNPARTITIONED,
    markdown_table,
    opened,
    project_resources,
)

# The module's runs share one database, so its tests stay on one xdist worker and build it once.
pytestmark = pytest.mark.xdist_group("hand_computed")

# A product name with an apostrophe and a comma, a customer name with a comma, cents in every
# price, and sales on both sides of the month boundary (31 January, 1 February) and on the
# leap day. Books and Home and Garden have products; Electronics and Clothing have none.
CSVS = {
    "products": """\
product_id,product_name,category,price
P1,"Gardener's Trowel, Steel",Home and Garden,12.45
P2,Clean SQL,Books,19.99
""",
    "sales_reps": """\
rep_id,rep_name,department,hire_date
R1,Ana Ortiz,Enterprise,2020-03-15
R2,Ben Okafor,Small Business,2022-11-01
""",
    "sales_data": """\
order_id,date,product_id,rep_id,customer_name,quantity,dollar_amount
1001,2024-01-05,P1,R1,Acme Corp,2,24.90
1002,2024-01-31,P1,R1,Cora Diaz,1,12.45
1003,2024-01-31,P2,R2,Blue Books,1,19.99
1004,2024-02-01,P1,R1,Acme Corp,1,12.45
1005,2024-02-01,P2,R2,"Byte & Co, Ltd",3,59.97
1006,2024-02-29,P1,R2,Cora Diaz,2,24.90
""",
}

TROWEL = "Gardener's Trowel, Steel"
JANUARY = "2024-01-01"
FEBRUARY = "2024-02-01"


def _materialize(database: Path, csv_dir: Path, instance, selection, **kwargs):
    """A run of the real definitions against this module's CSVs, as conftest's fixtures run
    them; `kwargs` are a partition key, a partition range's tags or a run config."""
    return dg.materialize(
        ALL_ASSETS,
        selection=selection,
        instance=instance,
        resources=project_resources(database, csv_dir),
        **kwargs,
    )


def _range(first: str, last: str) -> dict[str, str]:
    """The tags of one run over the partitions `first` to `last`."""
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def _select(database: Path, sql: str) -> tuple[list[str], list[tuple]]:
    """The column names and rows of a query, read without holding the file afterwards."""
    with opened(database) as conn:
        cursor = conn.execute(sql)
        return [column[0] for column in cursor.description], cursor.fetchall()


@pytest.fixture(scope="module")
def hand_csvs(tmp_path_factory) -> Path:
    """The CSVs above, each written as it is shown."""
    folder = tmp_path_factory.mktemp("hand_computed_csvs")
    for table, text in CSVS.items():
        (folder / f"{table}.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def joined_database(tmp_path_factory, hand_csvs, instance) -> Path:
    """products, sales_reps, sales_data and joined_data loaded; no analysis table yet."""
    database = tmp_path_factory.mktemp("hand_computed_joined") / "joined.duckdb"
    _materialize(database, hand_csvs, instance, UNPARTITIONED)
    return database


@pytest.fixture(scope="module")
def built_database(tmp_path_factory, joined_database, hand_csvs, instance) -> Path:
    """joined_data, then January and February in one run, then every category in one run."""
    database = tmp_path_factory.mktemp("hand_computed_built") / "built.duckdb"
    shutil.copy(joined_database, database)
    months = _range(JANUARY, FEBRUARY)
    _materialize(database, hand_csvs, instance, ["monthly_sales_performance"], tags=months)
    categories = _range(*ALL_CATEGORIES)
    _materialize(database, hand_csvs, instance, ["product_performance"], tags=categories)
    return database


def test_joined_data_is_each_sale_beside_its_rep_and_product(built_database):
    columns, rows = _select(built_database, "select * from joined_data order by order_id")

    assert columns == expected.JOINED_DATA_COLUMNS
    ana = ("Ana Ortiz", "Enterprise", date(2020, 3, 15))
    ben = ("Ben Okafor", "Small Business", date(2022, 11, 1))
    trowel = (TROWEL, "Home and Garden", Decimal("12.45"))
    clean_sql = ("Clean SQL", "Books", Decimal("19.99"))
    assert rows == [
        (1001, date(2024, 1, 5), Decimal("24.90"), "Acme Corp", 2, *ana, *trowel),
        (1002, date(2024, 1, 31), Decimal("12.45"), "Cora Diaz", 1, *ana, *trowel),
        (1003, date(2024, 1, 31), Decimal("19.99"), "Blue Books", 1, *ben, *clean_sql),
        (1004, date(2024, 2, 1), Decimal("12.45"), "Acme Corp", 1, *ana, *trowel),
        (1005, date(2024, 2, 1), Decimal("59.97"), "Byte & Co, Ltd", 3, *ben, *clean_sql),
        (1006, date(2024, 2, 29), Decimal("24.90"), "Cora Diaz", 2, *ben, *trowel),
    ]


MONTHLY_ROWS = "select * from monthly_sales_performance order by partition_date, rep_name, product"
JANUARY_ROWS = [
    ("2024-01", "Ana Ortiz", TROWEL, Decimal("37.35")),  # 24.90 + 12.45 (1001, 1002 on the 31st)
    ("2024-01", "Ben Okafor", "Clean SQL", Decimal("19.99")),  # 1003 on the 31st
]
FEBRUARY_ROWS = [
    ("2024-02", "Ana Ortiz", TROWEL, Decimal("12.45")),  # 1004 on the 1st
    ("2024-02", "Ben Okafor", "Clean SQL", Decimal("59.97")),  # 3 × 19.99 (1005)
    ("2024-02", "Ben Okafor", TROWEL, Decimal("24.90")),  # 2 × 12.45 (1006, the leap day)
]


def test_monthly_sales_performance_sums_each_reps_product_within_its_month(built_database):
    columns, rows = _select(built_database, MONTHLY_ROWS)

    assert columns == ["partition_date", "rep_name", "product", "total_dollar_amount"]
    assert rows == JANUARY_ROWS + FEBRUARY_ROWS


def test_a_run_of_january_alone_writes_only_januarys_rows(
    joined_database, hand_csvs, instance, tmp_path
):
    database = tmp_path / "january.duckdb"
    shutil.copy(joined_database, database)

    _materialize(
        database, hand_csvs, instance, ["monthly_sales_performance"], partition_key=JANUARY
    )

    _, rows = _select(database, MONTHLY_ROWS)
    assert rows == JANUARY_ROWS


def test_product_performance_sums_money_and_units_of_each_product_by_category(built_database):
    columns, rows = _select(
        built_database, "select * from product_performance order by product_category"
    )

    assert columns == [
        "product_category",
        "product_name",
        "total_dollar_amount",
        "total_units_sold",
    ]
    assert rows == [
        # 19.99 + 59.97 (1003, 1005); 1 + 3 units
        ("Books", "Clean SQL", Decimal("79.96"), 4),
        # 24.90 + 12.45 + 12.45 + 24.90 (1001, 1002, 1004, 1006); 2 + 1 + 1 + 2 units
        ("Home and Garden", TROWEL, Decimal("74.70"), 6),
    ]


def test_adhoc_report_counts_sales_from_the_start_date_up_to_but_not_on_the_end_date(
    built_database, hand_csvs, instance
):
    request = {
        "department": "Enterprise",
        "product": TROWEL,
        "start_date": "2024-01-05",
        "end_date": "2024-02-01",
    }

    result = _materialize(
        built_database,
        hand_csvs,
        instance,
        ["adhoc_request"],
        run_config={"ops": {"adhoc_request": {"config": request}}},
    )

    (event,) = result.get_asset_materialization_events()
    metadata = {key: value.value for key, value in event.materialization.metadata.items()}
    table = markdown_table(metadata["result"])
    assert table.headers == expected.ADHOC_REPORT_COLUMNS
    # Ana's trowels on 5 and 31 January: 2 + 1 units, 24.90 + 12.45; 1004 on 1 February is
    # the end date, so it is left out, and Ben is in another department.
    assert table.rows == [["Enterprise", "Ana Ortiz", TROWEL, "3", "37.35"]]
    assert metadata["summary"] == (
        "1 rep of Enterprise sold Gardener's Trowel, Steel "
        "from 2024-01-05 up to 2024-02-01 (end date excluded)."
    )
