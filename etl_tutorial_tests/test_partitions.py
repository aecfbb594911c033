import pytest

from etl_tutorial.definitions import monthly_partition, product_category_partition
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import UNPARTITIONED

MONTHS = monthly_partition.get_partition_keys()
CATEGORIES = product_category_partition.get_partition_keys()
MONTHLY = "select * from monthly_sales_performance"
BY_CATEGORY = "select * from product_performance"


@pytest.fixture
def joined(materialize):
    materialize(UNPARTITIONED)


@pytest.mark.parametrize(
    "asset, keys, independent_totals",
    [
        ("monthly_sales_performance", MONTHS, expected.monthly_sales_performance),
        ("product_performance", CATEGORIES, expected.product_performance),
    ],
    ids=["every month", "every category"],
)
def test_each_partition_materialized_one_by_one_equals_independent_totals(
    asset, keys, independent_totals, joined, materialize, query, csv_dir
):
    for key in keys:
        materialize([asset], partition_key=key)

    rows = query(f"select * from {asset}")  # noqa: S608
    assert len(rows) == len(set(rows))
    assert set(rows) == independent_totals(csv_dir)


def test_a_backfill_range_writes_the_same_rows_as_single_partitions(joined, materialize, query):
    materialize(["monthly_sales_performance"], partition_range=(MONTHS[0], MONTHS[-1]))
    materialize(["product_performance"], partition_range=(CATEGORIES[0], CATEGORIES[-1]))
    by_range = (sorted(query(MONTHLY)), sorted(query(BY_CATEGORY)))

    for month in MONTHS:
        materialize(["monthly_sales_performance"], partition_key=month)
    for category in CATEGORIES:
        materialize(["product_performance"], partition_key=category)

    assert (sorted(query(MONTHLY)), sorted(query(BY_CATEGORY))) == by_range


def test_partition_metadata_reports_the_rows_of_its_range(joined, materialize, query):
    result = materialize(["monthly_sales_performance"], partition_key="2024-03-01")

    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    ((march_rows,),) = query(
        "select count(*) from monthly_sales_performance where partition_date = '2024-03'"
    )
    assert metadata["dagster/row_count"].value == march_rows > 0
    assert metadata["partition_range"].value == "2024-03-01 to 2024-03-01"
    assert "| 2024-03 " in metadata["preview"].value


def test_rematerializing_a_month_is_idempotent_and_leaves_other_months_untouched(
    joined, materialize, query
):
    materialize(["monthly_sales_performance"], partition_range=(MONTHS[0], MONTHS[-1]))
    before = sorted(query(MONTHLY))
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


def test_rematerializing_a_category_leaves_other_categories_untouched(joined, materialize, query):
    materialize(["product_performance"], partition_range=(CATEGORIES[0], CATEGORIES[-1]))
    before = sorted(query(BY_CATEGORY))
    query("update joined_data set quantity = quantity + 1")

    materialize(["product_performance"], partition_key="Books")

    after = sorted(query(BY_CATEGORY))
    assert [r for r in after if r[0] != "Books"] == [r for r in before if r[0] != "Books"]
    assert [r for r in after if r[0] == "Books"] != [r for r in before if r[0] == "Books"]


def test_a_failing_partition_write_leaves_the_previous_rows(joined, materialize, query):
    materialize(["monthly_sales_performance"], partition_range=(MONTHS[0], MONTHS[-1]))
    materialize(["product_performance"], partition_range=(CATEGORIES[0], CATEGORIES[-1]))
    before = (sorted(query(MONTHLY)), sorted(query(BY_CATEGORY)))
    # A total too large for decimal(18, 2) makes the insert fail after the delete has run.
    query("update joined_data set dollar_amount = 9999999999999999.99 where date < '2024-04-01'")

    month = materialize(
        ["monthly_sales_performance"], partition_key="2024-03-01", raise_on_error=False
    )
    books = materialize(["product_performance"], partition_key="Books", raise_on_error=False)

    assert not month.success and not books.success
    assert (sorted(query(MONTHLY)), sorted(query(BY_CATEGORY))) == before
