"""The partitions of the two analysis tables. They also decide what the CSVs may hold: a
product's category must be a category partition, and a sale's date must fall in a month.
The sample-data generator reads the categories from here too."""

from datetime import date

import dagster as dg

# One partition per month from January 2024 up to the month in progress (end_offset=1): a
# sale dated today is counted in this month's row, month to date. When a month ends its
# partition is complete and the next month's starts, on Dagster's clock, in UTC.
monthly_partition = dg.MonthlyPartitionsDefinition(start_date="2024-01-01", end_offset=1)

# One partition per product category.
product_category_partition = dg.StaticPartitionsDefinition(
    ["Electronics", "Books", "Home and Garden", "Clothing"]
)


def dates_in_a_month() -> dict[str, date]:
    """The dates some monthly partition covers now, on the clock the partitions are read
    with: from `first_day` up to, not including, `end_day`."""
    return {
        "first_day": monthly_partition.start.date(),
        "end_day": monthly_partition.get_last_partition_window().end.date(),
    }
