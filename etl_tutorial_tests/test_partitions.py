import pytest

from etl_tutorial.definitions import monthly_partition, product_category_partition
from etl_tutorial.sources import DATA_DIR
from etl_tutorial.tables import PREVIEW_ROWS
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import PARTITIONED, UNPARTITIONED, markdown_table

MONTHS = monthly_partition.get_partition_keys()
CATEGORIES = product_category_partition.get_partition_keys()
MONTHLY = "select * from monthly_sales_performance"
BY_CATEGORY = "select * from product_performance"


@pytest.fixture
def joined(materialize):
    materialize(UNPARTITIONED)


# Months whose windows end differently: 31 days, a leap-year February, 31 days, the year's end.
EDGE_MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01", "2024-12-01"]


def test_each_partition_materialized_one_by_one_equals_independent_totals(
    joined, materialize, query, csv_dir
):
    # The latest month has no sales: it writes no rows.
    for month in [*EDGE_MONTHS, MONTHS[-1]]:
        materialize(["monthly_sales_performance"], partition_key=month)
    for category in CATEGORIES:
        materialize(["product_performance"], partition_key=category)

    monthly = query(MONTHLY)
    assert len(monthly) == len(set(monthly))
    written = {month[:7] for month in EDGE_MONTHS}
    assert set(monthly) == {
        row for row in expected.monthly_sales_performance(csv_dir) if row[0] in written
    }
    assert {row[0] for row in monthly} == written
    by_category = query(BY_CATEGORY)
    assert len(by_category) == len(set(by_category))
    assert set(by_category) == expected.product_performance(csv_dir)


def test_a_backfill_range_of_every_partition_equals_independent_totals(published):
    """`published` wrote every month and every category as one range run each."""
    monthly, by_category = published["monthly_sales_performance"], published["product_performance"]
    assert len(monthly) == len(set(monthly)) and len(by_category) == len(set(by_category))
    assert set(monthly) == expected.monthly_sales_performance(DATA_DIR)
    assert set(by_category) == expected.product_performance(DATA_DIR)


def test_partition_metadata_reports_the_rows_of_its_range(published, materialize, query):
    result = materialize(["monthly_sales_performance"], partition_key="2024-03-01")

    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    ((march_rows,),) = query(
        "select count(*) from monthly_sales_performance where partition_date = '2024-03'"
    )
    assert metadata["dagster/row_count"].value == march_rows > PREVIEW_ROWS
    assert metadata["partition_range"].value == "2024-03-01 to 2024-03-01"
    preview = markdown_table(metadata["preview"].value)
    assert preview.column("partition_date") == ["2024-03"] * PREVIEW_ROWS


def test_rematerializing_a_month_is_idempotent_and_leaves_other_months_untouched(
    published, materialize, query
):
    before = sorted(published["monthly_sales_performance"])
    # Change every sale upstream; only the re-materialized month may pick the change up.
    query("update joined_data set dollar_amount = dollar_amount + 1")

    materialize(["monthly_sales_performance"], partition_key="2024-02-01")
    materialize(["monthly_sales_performance"], partition_key="2024-02-01")

    after = sorted(query(MONTHLY))
    assert [r for r in after if r[0] != "2024-02"] == [r for r in before if r[0] != "2024-02"]
    february_before = {r[:3]: r[3] for r in before if r[0] == "2024-02"}
    february_after = {r[:3]: r[3] for r in after if r[0] == "2024-02"}
    assert february_after.keys() == february_before.keys()
    sales_per_pair = dict(
        ((rep, product), n)
        for rep, product, n in query(
            "select rep_name, product_name, count(*) from joined_data "
            "where date >= '2024-02-01' and date < '2024-03-01' group by all"
        )
    )
    for (month, rep, product), total in february_after.items():
        assert total == february_before[(month, rep, product)] + sales_per_pair[(rep, product)]


def test_rematerializing_a_category_leaves_other_categories_untouched(
    published, materialize, query
):
    before = sorted(published["product_performance"])
    # One more unit in every sale upstream; only the re-materialized category may pick it up.
    query("update joined_data set quantity = quantity + 1")

    materialize(["product_performance"], partition_key="Books")

    after = sorted(query(BY_CATEGORY))
    assert [r for r in after if r[0] != "Books"] == [r for r in before if r[0] != "Books"]
    sales_per_product = dict(
        query(
            "select product_name, count(*) from joined_data where category = 'Books' group by all"
        )
    )
    assert [r for r in after if r[0] == "Books"] == [
        (category, product, dollars, units + sales_per_product[product])
        for category, product, dollars, units in before
        if category == "Books"
    ]


def test_a_failing_partition_write_leaves_the_previous_rows(published, materialize, query):
    before = (
        sorted(published["monthly_sales_performance"]),
        sorted(published["product_performance"]),
    )
    # A total too large for decimal(18, 2) makes the insert fail after the delete has run.
    query("update joined_data set dollar_amount = 9999999999999999.99 where date < '2024-04-01'")

    month = materialize(
        ["monthly_sales_performance"], partition_key="2024-03-01", raise_on_error=False
    )
    books = materialize(["product_performance"], partition_key="Books", raise_on_error=False)

    assert not month.success and not books.success
    assert tuple(sorted(query(f"select * from {table}")) for table in PARTITIONED) == before  # noqa: S608
