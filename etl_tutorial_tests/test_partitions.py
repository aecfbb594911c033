from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from etl_tutorial.definitions import monthly_partition, product_category_partition
from etl_tutorial.metadata import PREVIEW_ROWS
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


# Nine runs, one partition each: seconds.
@pytest.mark.slow
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


def test_a_backfill_range_of_every_partition_equals_independent_totals(published, sample_csvs):
    """`published` wrote every month and every category as one range run each."""
    monthly, by_category = published["monthly_sales_performance"], published["product_performance"]
    assert len(monthly) == len(set(monthly)) and len(by_category) == len(set(by_category))
    assert set(monthly) == expected.monthly_sales_performance(sample_csvs)
    assert set(by_category) == expected.product_performance(sample_csvs)


def _by_partition(rows: set[tuple], key_of, total_columns: slice) -> dict[str, list]:
    """[row count, totals...] per partition key, from independently computed table rows."""
    summary: dict[str, list] = {}
    for row in rows:
        entry = summary.setdefault(key_of(row), [0] + [0] * len(row[total_columns]))
        entry[0] += 1
        for index, value in enumerate(row[total_columns], start=1):
            entry[index] += value
    return summary


def _summary_rows(summary: dict[str, list], keys: list[str]) -> list[list[str]]:
    """The summary table's rows as the UI shows them, a partition without rows as zeros."""
    zeros = [type(value)() for value in next(iter(summary.values()))]
    return [[key, *(_shown(value) for value in summary.get(key, zeros))] for key in keys]


def _shown(value) -> str:
    return f"{value:,.2f}" if isinstance(value, Decimal) else str(value)


MONTH_SUMMARY = "partition_key rows total_dollar_amount".split()
CATEGORY_SUMMARY = MONTH_SUMMARY + ["total_units_sold"]


def test_a_one_partition_run_reports_that_partitions_rows_and_preview(
    published, materialize, sample_csvs
):
    result = materialize(["monthly_sales_performance"], partition_key="2024-03-01")

    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    months = _by_partition(
        expected.monthly_sales_performance(sample_csvs), lambda row: f"{row[0]}-01", slice(3, 4)
    )
    march_rows = months["2024-03-01"][0]
    assert metadata["dagster/partition_row_count"].value == march_rows > PREVIEW_ROWS
    assert "dagster/row_count" not in metadata
    assert metadata["partitions_written"].value == "2024-03-01"
    summary = markdown_table(metadata["rows_and_totals_by_partition"].value)
    assert summary.headers == MONTH_SUMMARY
    assert summary.rows == _summary_rows(months, ["2024-03-01"])
    preview = markdown_table(metadata["preview"].value)
    assert preview.column("partition_date") == ["2024-03"] * PREVIEW_ROWS


@pytest.mark.parametrize(
    "asset, keys, key_of, totals, headers",
    [
        (
            "monthly_sales_performance",
            MONTHS,
            lambda row: f"{row[0]}-01",
            slice(3, 4),
            MONTH_SUMMARY,
        ),
        ("product_performance", CATEGORIES, lambda row: row[0], slice(2, 4), CATEGORY_SUMMARY),
    ],
)
def test_a_range_run_reports_each_partition_by_key_and_no_figure_as_one_partitions(
    published, materialize, csv_dir, asset, keys, key_of, totals, headers
):
    """Dagster attaches one metadata set to every partition of a range run: each partition's
    page must show every partition's figures by key, and no row count or preview as its own."""
    result = materialize([asset], partition_range=(keys[0], keys[-1]))

    events = result.get_asset_materialization_events()
    assert sorted(event.partition for event in events) == sorted(keys)
    metadata = events[0].materialization.metadata
    assert all(event.materialization.metadata == metadata for event in events)
    assert not {"dagster/row_count", "dagster/partition_row_count", "preview"} & set(metadata)
    assert metadata["partitions_written"].value == f"{len(keys)}: {keys[0]} to {keys[-1]}"
    want = _by_partition(getattr(expected, asset)(csv_dir), key_of, totals)
    summary = markdown_table(metadata["rows_and_totals_by_partition"].value)
    assert summary.headers == headers
    assert summary.rows == _summary_rows(want, sorted(keys))
    # The months after the last sale are listed, with zeros.
    assert len(want) < len(keys) or asset == "product_performance"


def test_a_sale_dated_today_counts_in_this_months_row(published, materialize, query, csv_dir):
    """The month in progress is a partition: its row holds the month's sales so far."""
    today = datetime.now(timezone.utc).date()
    # And one on the month's last day: the whole month in progress is a partition.
    last_day = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    with (csv_dir / "sales_data.csv").open("a", encoding="utf-8") as f:
        f.write(f"900001,{today:%Y-%m-%d},P001,R01,Walk-in Customer,2,12.34\n")
        f.write(f"900002,{last_day:%Y-%m-%d},P002,R02,Walk-in Customer,1,5.00\n")

    assert materialize(["sales_data", "joined_data"]).success
    materialize(["monthly_sales_performance"], partition_key=MONTHS[-1])

    this_month = {
        row for row in expected.monthly_sales_performance(csv_dir) if row[0] == MONTHS[-1][:7]
    }
    assert MONTHS[-1] == f"{today:%Y-%m}-01" and len(this_month) == 2
    assert set(query(MONTHLY + " where partition_date = ?", [f"{today:%Y-%m}"])) == this_month


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
