"""The queries that compute the pipeline's tables and report: the join, the two partitioned
analysis tables with the reconciliation of each against joined_data, and the ad hoc request.
(Reading a CSV and auditing a table are SQL built from their declarations, in sources.py and
audits.py.)

Every value from outside the package is a parameter; only table and column names written
here are part of the SQL text. A partition range is bound once, by name (`$start`, `$end`,
`$categories`), and shared by the delete, the insert, the reconciliation and the preview.
"""

from dataclasses import dataclass

JOINED_DATA = """
select
    sales.order_id,
    sales.date,
    sales.dollar_amount,
    sales.customer_name,
    sales.quantity,
    reps.rep_name,
    reps.department,
    reps.hire_date,
    products.product_name,
    products.category,
    products.price
from sales_data as sales
left join sales_reps as reps on reps.rep_id = sales.rep_id
left join products on products.product_id = sales.product_id
"""


@dataclass(frozen=True)
class PartitionedTable:
    """The SQL that writes and checks one partitioned analysis table: `select` computes the
    rows of the partitions a run writes from joined_data (its casts are the table's column
    types), `rows` picks the same partitions' rows in the table, `reconcile` lists the
    partitions whose totals differ from joined_data's, and `order_by` orders the preview."""

    table: str
    select: str
    rows: str
    reconcile: str
    order_by: str


def totals_mismatch(
    table: str,
    *,
    partition: str,
    rows: str,
    joined_partition: str,
    joined_rows: str,
    totals: dict[str, str],
) -> str:
    """Reconciliation: the partitions whose totals in `table` differ from joined_data's for
    the same range, so a bug in an aggregation cannot go unnoticed. `totals` maps each total
    column of `table` to the joined_data column it sums."""
    written = ", ".join(f"sum({column}) as {column}" for column in totals)
    joined = ", ".join(f"sum({source}) as {column}" for column, source in totals.items())
    differs = " or ".join(f"written.{column} is distinct from joined.{column}" for column in totals)
    return f"""
with written as (
    select {partition} as partition, {written}
    from {table}
    where {rows}
    group by all
), joined as (
    select {joined_partition} as partition, {joined}
    from joined_data
    where {joined_rows}
    group by all
)
select partition
from written full join joined using (partition)
where {differs}
order by partition
"""  # noqa: S608


# Partition keys are 'YYYY-MM', so the key range is also a half-open string range.
MONTHS = "partition_date >= strftime($start, '%Y-%m') and partition_date < strftime($end, '%Y-%m')"
# The same months in joined_data: a half-open range on the date column itself, so DuckDB can
# skip row groups outside it.
JOINED_MONTHS = "date >= $start and date < $end"

MONTHLY_SALES_PERFORMANCE = PartitionedTable(
    table="monthly_sales_performance",
    select=f"""
select
    strftime(date, '%Y-%m') as partition_date,
    rep_name,
    product_name as product,
    sum(dollar_amount)::decimal(18, 2) as total_dollar_amount
from joined_data
where {JOINED_MONTHS}
group by all
""",  # noqa: S608
    rows=MONTHS,
    reconcile=totals_mismatch(
        "monthly_sales_performance",
        partition="partition_date",
        rows=MONTHS,
        joined_partition="strftime(date, '%Y-%m')",
        joined_rows=JOINED_MONTHS,
        totals={"total_dollar_amount": "dollar_amount"},
    ),
    order_by="partition_date, total_dollar_amount desc",
)

CATEGORIES = "list_contains($categories::varchar[], product_category)"
JOINED_CATEGORIES = "list_contains($categories::varchar[], category)"

PRODUCT_PERFORMANCE = PartitionedTable(
    table="product_performance",
    select=f"""
select
    category as product_category,
    product_name,
    sum(dollar_amount)::decimal(18, 2) as total_dollar_amount,
    sum(quantity)::bigint as total_units_sold
from joined_data
where {JOINED_CATEGORIES}
group by all
""",  # noqa: S608
    rows=CATEGORIES,
    reconcile=totals_mismatch(
        "product_performance",
        partition="product_category",
        rows=CATEGORIES,
        joined_partition="category",
        joined_rows=JOINED_CATEGORIES,
        totals={"total_dollar_amount": "dollar_amount", "total_units_sold": "quantity"},
    ),
    order_by="product_category, total_dollar_amount desc",
)


# One request's sales: department, product and the half-open date range are its parameters.
ADHOC_REQUEST = """
select
    department,
    rep_name,
    product_name,
    sum(quantity)::bigint as units_sold,
    sum(dollar_amount)::decimal(18, 2) as total_dollar_amount
from joined_data
where department = ? and product_name = ? and date >= ? and date < ?
group by all
order by total_dollar_amount desc, rep_name
"""
