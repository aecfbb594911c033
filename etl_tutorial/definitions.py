"""Dagster's ETL tutorial: sales CSVs into DuckDB, joined, checked, and analysed by month and
by product category."""

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from etl_tutorial import audits, queries
from etl_tutorial.adhoc import AdhocRequestConfig, RequestFolder, scan_requests
from etl_tutorial.sources import DATA_DIR, CsvFolder, load_csv
from etl_tutorial.tables import (
    connect,
    publish,
    rewrite_partitions,
    rows_as_markdown,
    totals_check,
)

# DuckDB lets one process at a time open the file for writing. Everything that opens it is in
# this pool, and dagster.yaml limits the pool to 1, so runs queue in Dagster instead of
# retrying on the file lock.
DUCKDB_POOL = "duckdb"

# BackfillPolicy is marked beta in Dagster 1.13; single-run backfills are a deliberate choice
# here, so that one warning (and no other) is not repeated on every import.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


# Every table that people and later assets read is written, audited, then published: its new
# rows are built beside it, every blocking check below runs on them, and they replace the old
# rows in one transaction only if all pass. A failed check fails the run, shows on the
# asset's Checks tab with its count and first offending keys, and leaves the last good rows.
# The rules that decide where a sale lands come from the partitions definitions themselves,
# so every sale counts in exactly one month and one category, or the load is refused.

# Ingestion

# The three ingestion assets differ only in their CSV and their checks, so one function
# declares each of them.


def csv_table(table: str, checks: list[audits.Audit], description: str) -> dg.AssetsDefinition:
    """The asset `table`: its CSV loaded, audited by `checks`, then published."""

    @dg.asset(
        name=table,
        description=description,
        kinds={"duckdb"},
        group_name="ingestion",
        pool=DUCKDB_POOL,
        check_specs=audits.specs(table, checks),
    )
    def load(duckdb: DuckDBResource, csv_folder: CsvFolder):
        yield from load_csv(table, duckdb, csv_folder, checks)

    return load


# The product categories are the partitions of product_performance, so they are also the only
# categories products.csv may use.
product_category_partition = dg.StaticPartitionsDefinition(
    ["Electronics", "Books", "Home and Garden", "Clothing"]
)

PRODUCT_CHECKS = [
    *audits.not_null("product_id", "category", "price", source="products.csv"),
    audits.unique("product_id", source="products.csv"),
    audits.accepted_values(
        "category",
        product_category_partition.get_partition_keys(),
        source="products.csv",
        name="category_is_a_partition",
    ),
]

products = csv_table(
    "products", PRODUCT_CHECKS, "Product catalogue from products.csv: one row per product."
)


SALES_REP_CHECKS = [
    *audits.not_null("rep_id", "hire_date", source="sales_reps.csv"),
    audits.unique("rep_id", source="sales_reps.csv"),
]

sales_reps = csv_table(
    "sales_reps", SALES_REP_CHECKS, "Sales reps from sales_reps.csv: one row per rep."
)


# The months are the partitions of monthly_sales_performance: a sale dated before the first
# one, or after today, would never be counted in any month.
monthly_partition = dg.MonthlyPartitionsDefinition(start_date="2024-01-01")

SALES_CHECKS = [
    *audits.not_null(
        "order_id",
        "date",
        "product_id",
        "rep_id",
        "quantity",
        "dollar_amount",
        source="sales_data.csv",
    ),
    audits.unique("order_id", source="sales_data.csv"),
    audits.row_rule(
        "date_is_in_a_partition",
        f"Every sale is dated from {monthly_partition.start:%Y-%m-%d} (the first month) to today.",
        counted="sales_dated_outside_the_months",
        offending="date < $first_day or date > current_date",
        first_day=monthly_partition.start.date(),
    ),
    audits.row_rule(
        "no_negative_sales",
        "No sale has a negative quantity or dollar amount.",
        counted="sales_with_negative_quantity_or_amount",
        offending="quantity < 0 or dollar_amount < 0",
    ),
]

sales_data = csv_table("sales_data", SALES_CHECKS, "Sales from sales_data.csv: one row per order.")


# The join and its checks

JOINED_DATA_CHECKS = [
    audits.row_rule(
        "missing_dimension_check",
        "Every sale found its rep and its product.",
        counted="rows_missing_rep_or_product",
        offending="rep_name is null or product_name is null",
    ),
    audits.one_row_per("order_id", source="sales_data", name="one_joined_row_per_sale"),
]


@dg.asset(
    deps=[sales_data, sales_reps, products],
    kinds={"duckdb"},
    group_name="joins",
    pool=DUCKDB_POOL,
    check_specs=audits.specs("joined_data", JOINED_DATA_CHECKS),
)
def joined_data(duckdb: DuckDBResource):
    """Sales left-joined to their rep and product: one row per order."""
    with connect(duckdb) as conn:
        yield from publish(
            conn,
            "joined_data",
            select=queries.JOINED_DATA,
            audits=JOINED_DATA_CHECKS,
            key="order_id",
            order_by="order_id",
            source="sales_data joined to sales_reps and products",
        )


# Analysis by month

# New upstream data brings the latest partitions up to date without a manual backfill, but
# only once every blocking check upstream has passed.
AUTOMATION = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
)


def partition_range_metadata(context: dg.AssetExecutionContext) -> dict[str, str]:
    """A backfill run writes many partitions at once and Dagster attaches the same metadata to
    each of them, so say which range the row count and preview cover."""
    key_range = context.partition_key_range
    return {"partition_range": f"{key_range.start} to {key_range.end}"}


# What both partitioned analysis assets share. A backfill of any number of partitions is
# one run that rewrites the whole range at once.
PARTITIONED_ANALYSIS = {
    "deps": [joined_data],
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "automation_condition": AUTOMATION,
    "kinds": {"duckdb"},
    "group_name": "analysis",
    "pool": DUCKDB_POOL,
}


@dg.asset(
    partitions_def=monthly_partition,
    check_specs=[totals_check("monthly_sales_performance")],
    **PARTITIONED_ANALYSIS,
)
def monthly_sales_performance(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Sales totals from joined_data: one row per month, rep and product."""
    window = context.partition_time_window
    with connect(duckdb) as conn:
        yield from rewrite_partitions(
            conn,
            queries.MONTHLY_SALES_PERFORMANCE,
            params={"start": window.start.date(), "end": window.end.date()},
            metadata=partition_range_metadata(context),
        )


# Analysis by product category


@dg.asset(
    partitions_def=product_category_partition,
    check_specs=[totals_check("product_performance")],
    **PARTITIONED_ANALYSIS,
)
def product_performance(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Sales totals from joined_data: one row per product category and product."""
    with connect(duckdb) as conn:
        yield from rewrite_partitions(
            conn,
            queries.PRODUCT_PERFORMANCE,
            params={"categories": context.partition_keys},
            metadata=partition_range_metadata(context),
        )


# Ad hoc requests: a JSON file dropped into data/requests/ becomes one report run.


@dg.asset(deps=[joined_data], kinds={"duckdb"}, group_name="analysis", pool=DUCKDB_POOL)
def adhoc_request(config: AdhocRequestConfig, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Sales from joined_data for one request: one row per rep of a department, for a product."""
    with connect(duckdb) as conn:
        row_count, result = rows_as_markdown(
            conn.execute(queries.ADHOC_REQUEST, config.parameters())
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": row_count, "result": result})


adhoc_request_job = dg.define_asset_job("adhoc_request_job", selection=[adhoc_request])


@dg.sensor(job=adhoc_request_job)
def adhoc_request_sensor(
    context: dg.SensorEvaluationContext, request_folder: RequestFolder
) -> dg.SensorResult:
    """One run of adhoc_request_job per new or changed data/requests/*.json file."""
    scan = scan_requests(Path(request_folder.path), context.cursor)
    for name, problem in scan.problems.items():
        context.log.warning(f"Skipping request file {name}: {problem}")
    return dg.SensorResult(run_requests=scan.run_requests, cursor=scan.cursor)


# Automation

weekly_update_schedule = dg.ScheduleDefinition(
    name="weekly_update_schedule",
    target=dg.AssetSelection.assets(joined_data).upstream(),
    cron_schedule="0 0 * * 1",  # Mondays at 00:00
)

# Evaluates the eager conditions above. Dagster would create this sensor stopped; it is
# declared here to be running from the first `dagster dev`.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
)


# Where the data lives. Each setting is read from the environment here, once; by default
# everything is in the checkout's data/ folder, wherever Dagster is started from.
def resources(env: Mapping[str, str]) -> dict[str, dg.ConfigurableResource]:
    return {
        "duckdb": DuckDBResource(
            database=env.get("DUCKDB_DATABASE", str(DATA_DIR / "mydb.duckdb"))
        ),
        "csv_folder": CsvFolder(path=env.get("SALES_CSV_DIR", str(DATA_DIR))),
        "request_folder": RequestFolder(
            path=env.get("ADHOC_REQUEST_DIR", str(DATA_DIR / "requests"))
        ),
    }


defs = dg.Definitions(
    assets=[
        products,
        sales_reps,
        sales_data,
        joined_data,
        monthly_sales_performance,
        product_performance,
        adhoc_request,
    ],
    jobs=[adhoc_request_job],
    # Every step opens the one DuckDB file and waits for the pool's one slot, so steps never
    # run side by side: run them in the run's own process instead of one process each.
    executor=dg.in_process_executor,
    schedules=[weekly_update_schedule],
    sensors=[adhoc_request_sensor, automation_sensor],
    resources=resources(os.environ),
)
