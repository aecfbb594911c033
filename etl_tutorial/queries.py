"""SQL for the joined table, its checks and the two partitioned analysis tables.

Every value from outside the package is a `?` parameter; only table and column names
written here are part of the SQL text.
"""

from dataclasses import dataclass

JOINED_DATA = """
create or replace table joined_data as
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
class CheckQuery:
    """A check as two queries: how many rows or keys offend, and the first few of them.

    The examples are only looked up when the count is not zero, so a passing check costs
    one scan at most.
    """

    count: str
    examples: str


MISSING_DIMENSIONS = CheckQuery(
    count="select count(*) from joined_data where rep_name is null or product_name is null",
    examples="""
        select order_id from joined_data
        where rep_name is null or product_name is null
        order by order_id limit 5
    """,
)


def duplicate_or_missing_keys(table: str, key: str) -> CheckQuery:
    """Key values that appear more than once, and a 'NULL' entry if some rows have none.

    `table` and `key` are names from this package, never values from outside it.
    """
    offending = f"select {key} from {table} group by {key} having count(*) > 1 or {key} is null"  # noqa: S608
    return CheckQuery(
        count=f"select count(*) from ({offending})",  # noqa: S608
        examples=f"select coalesce({key}, 'NULL') from ({offending}) "  # noqa: S608
        f"order by {key} nulls first limit 5",
    )


NEGATIVE_SALES = CheckQuery(
    count="select count(*) from sales_data where quantity < 0 or dollar_amount < 0",
    examples="""
        select order_id from sales_data
        where quantity < 0 or dollar_amount < 0
        order by order_id limit 5
    """,
)

# A join to a dimension with a duplicated key repeats the sale and double-counts its revenue.
JOIN_FAN_OUT = CheckQuery(
    count="select (select count(*) from joined_data) - (select count(*) from sales_data)",
    examples="""
        select order_id from joined_data
        group by order_id having count(*) > 1
        order by order_id limit 5
    """,
)


CREATE_MONTHLY_SALES_PERFORMANCE = """
create table if not exists monthly_sales_performance (
    partition_date varchar,
    rep_name varchar,
    product varchar,
    total_dollar_amount decimal(18, 2)
)
"""

# Partition keys are 'YYYY-MM', so the key range is also a half-open string range.
MONTHLY_PARTITION_FILTER = "partition_date >= ? and partition_date < ?"

# A half-open range on the date column itself, so DuckDB can skip row groups outside it.
INSERT_MONTHLY_SALES_PERFORMANCE = """
insert into monthly_sales_performance
select
    strftime(date, '%Y-%m') as partition_date,
    rep_name,
    product_name as product,
    sum(dollar_amount)::decimal(18, 2) as total_dollar_amount
from joined_data
where date >= ? and date < ?
group by all
"""

CREATE_PRODUCT_PERFORMANCE = """
create table if not exists product_performance (
    product_category varchar,
    product_name varchar,
    total_dollar_amount decimal(18, 2),
    total_units_sold bigint
)
"""

CATEGORY_PARTITION_FILTER = "list_contains(?::varchar[], product_category)"

INSERT_PRODUCT_PERFORMANCE = """
insert into product_performance
select
    category as product_category,
    product_name,
    sum(dollar_amount)::decimal(18, 2) as total_dollar_amount,
    sum(quantity)::bigint as total_units_sold
from joined_data
where list_contains(?::varchar[], category)
group by all
"""
