"""SQL for the joined table and the two partitioned analysis tables, with the reconciliation
of each against joined_data.

Every value from outside the package is a parameter; only table and column names written
here are part of the SQL text. A partition range is bound once, by name (`$start`, `$end`,
`$categories`), and shared by the delete, the insert, the reconciliation and the preview.
"""

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


CREATE_MONTHLY_SALES_PERFORMANCE = """
create table if not exists monthly_sales_performance (
    partition_date varchar,
    rep_name varchar,
    product varchar,
    total_dollar_amount decimal(18, 2)
)
"""

# Partition keys are 'YYYY-MM', so the key range is also a half-open string range.
MONTHLY_PARTITION_FILTER = (
    "partition_date >= strftime($start, '%Y-%m') and partition_date < strftime($end, '%Y-%m')"
)

# A half-open range on the date column itself, so DuckDB can skip row groups outside it.
INSERT_MONTHLY_SALES_PERFORMANCE = """
insert into monthly_sales_performance
select
    strftime(date, '%Y-%m') as partition_date,
    rep_name,
    product_name as product,
    sum(dollar_amount)::decimal(18, 2) as total_dollar_amount
from joined_data
where date >= $start and date < $end
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

CATEGORY_PARTITION_FILTER = "list_contains($categories::varchar[], product_category)"

INSERT_PRODUCT_PERFORMANCE = """
insert into product_performance
select
    category as product_category,
    product_name,
    sum(dollar_amount)::decimal(18, 2) as total_dollar_amount,
    sum(quantity)::bigint as total_units_sold
from joined_data
where list_contains($categories::varchar[], category)
group by all
"""

# Reconciliation: the partitions whose totals in the analysis table differ from joined_data's
# for the same range. A bug in an aggregation above cannot go unnoticed.
MONTHLY_TOTALS_MISMATCH = f"""
with written as (
    select partition_date as partition, sum(total_dollar_amount) as dollars
    from monthly_sales_performance
    where {MONTHLY_PARTITION_FILTER}
    group by all
), joined as (
    select strftime(date, '%Y-%m') as partition, sum(dollar_amount) as dollars
    from joined_data
    where date >= $start and date < $end
    group by all
)
select partition
from written full join joined using (partition)
where written.dollars is distinct from joined.dollars
order by partition
"""  # noqa: S608

CATEGORY_TOTALS_MISMATCH = f"""
with written as (
    select
        product_category as partition,
        sum(total_dollar_amount) as dollars,
        sum(total_units_sold) as units
    from product_performance
    where {CATEGORY_PARTITION_FILTER}
    group by all
), joined as (
    select category as partition, sum(dollar_amount) as dollars, sum(quantity) as units
    from joined_data
    where list_contains($categories::varchar[], category)
    group by all
)
select partition
from written full join joined using (partition)
where written.dollars is distinct from joined.dollars or written.units is distinct from joined.units
order by partition
"""  # noqa: S608
