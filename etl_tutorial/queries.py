"""SQL for the joined table, its checks and the two partitioned analysis tables.

Every value from outside the package is a `?` parameter; only table and column names
written here are part of the SQL text.
"""

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

# Each check query returns (number of offending rows or keys, the first few of them).

MISSING_DIMENSIONS = """
select count(*), list(order_id order by order_id)[1:5]
from joined_data
where rep_name is null or product_name is null
"""


def duplicate_or_missing_keys(table: str, key: str) -> str:
    """Key values that appear more than once, and a 'NULL' entry if some rows have none."""
    return f"""
select count(*), list(coalesce({key}, 'NULL') order by {key} nulls first)[1:5]
from (select {key} from {table} group by {key} having count(*) > 1 or {key} is null)
"""  # noqa: S608


NEGATIVE_SALES = """
select count(*), list(order_id order by order_id)[1:5]
from sales_data
where quantity < 0 or dollar_amount < 0
"""

# A join to a dimension with a duplicated key repeats the sale and double-counts its revenue.
JOIN_FAN_OUT = """
select
    (select count(*) from joined_data) - (select count(*) from sales_data),
    (
        select list(order_id order by order_id)[1:5]
        from (select order_id from joined_data group by order_id having count(*) > 1)
    )
"""

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
