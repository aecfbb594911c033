"""The queries that compute the pipeline's tables and reports: the join, the two partitioned
analysis tables with the reconciliation of each against joined_data, the sales overview and
the ad hoc request.
(Reading a CSV and auditing a table are SQL built from their declarations, in csv_files.py and
audits.py.)

Every value from outside the package is a parameter; only table and column names written
here are part of the SQL text. A partition range is bound once, by name (`$start`, `$end`,
`$categories`), and shared by the delete, the insert, the reconciliation and the preview;
the summary of a run's partitions binds their keys (`$keys`).
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
    """The SQL that writes, checks and reports one partitioned analysis table.

    `select` computes the rows of the partitions a run writes from joined_data (its casts are
    the table's column types) and `rows` picks the same partitions' rows in the table. Each
    row's partition is its `partition` column; `key_partition` is that value for a partition
    key `key`. `joined_partition` and `joined_rows` are the same partition and range in
    joined_data, and `totals` maps each total column to the joined_data column it sums.
    `order_by` orders the preview.
    """

    table: str
    select: str
    rows: str
    partition: str
    key_partition: str
    joined_partition: str
    joined_rows: str
    totals: dict[str, str]
    order_by: str

    @property
    def reconcile(self) -> str:
        """The partitions whose totals in the table differ from joined_data's for the same
        range, so a bug in an aggregation cannot go unnoticed."""
        written = ", ".join(f"sum({column}) as {column}" for column in self.totals)
        joined = ", ".join(f"sum({source}) as {column}" for column, source in self.totals.items())
        differs = " or ".join(
            f"written.{column} is distinct from joined.{column}" for column in self.totals
        )
        return f"""
with written as (
    select {self.partition} as partition, {written}
    from {self.table}
    where {self.rows}
    group by all
), joined as (
    select {self.joined_partition} as partition, {joined}
    from joined_data
    where {self.joined_rows}
    group by all
)
select partition
from written full join joined using (partition)
where {differs}
order by partition
"""  # noqa: S608

    @property
    def summary(self) -> str:
        """For each partition key in `$keys`: its rows and totals in the table, zero for a
        partition with no rows, so each partition's own figures are told apart."""
        totals = ", ".join(
            f"coalesce(sum({self.table}.{column}), 0) as {column}" for column in self.totals
        )
        return f"""
select key as partition_key, count({self.table}.{self.partition}) as rows, {totals}
from unnest($keys::varchar[]) as keys(key)
left join {self.table} on {self.table}.{self.partition} = {self.key_partition}
group by key
order by key
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
    partition="partition_date",
    key_partition="strftime(key::date, '%Y-%m')",
    joined_partition="strftime(date, '%Y-%m')",
    joined_rows=JOINED_MONTHS,
    totals={"total_dollar_amount": "dollar_amount"},
    order_by="partition_date, total_dollar_amount desc",
)

# A semi join against the list, which DuckDB runs faster than list_contains on large tables.
CATEGORIES = "product_category = any($categories::varchar[])"
JOINED_CATEGORIES = "category = any($categories::varchar[])"

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
    partition="product_category",
    key_partition="key",
    joined_partition="category",
    joined_rows=JOINED_CATEGORIES,
    totals={"total_dollar_amount": "dollar_amount", "total_units_sold": "quantity"},
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

# Every department and product a request can name, so that a name not in the data (a typo)
# fails with the nearest ones, while a known name without sales in the dates reports 0 rows.
ADHOC_REQUEST_NAMES = """
select
    list(distinct department) filter (department is not null) as departments,
    list(distinct product_name) filter (product_name is not null) as products
from joined_data
"""


# The sales overview: the numbers behind its two charts, from the two analysis tables.
REVENUE_PER_MONTH = """
select partition_date as month, sum(total_dollar_amount) as revenue
from monthly_sales_performance
group by all
order by month
"""

REVENUE_PER_PRODUCT = """
select product_category as category, product_name as product, total_dollar_amount as revenue
from product_performance
order by category, revenue desc, product
"""
