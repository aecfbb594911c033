"""Dagster's ETL tutorial: sales CSVs into DuckDB, joined, checked, and analysed by month and
by product category."""

import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from etl_tutorial import queries
from etl_tutorial.adhoc import ADHOC_REQUEST, AdhocRequestConfig, RequestFolder, scan_requests
from etl_tutorial.sources import DATA_DIR, CsvFolder, load_csv
from etl_tutorial.tables import (
    connect,
    replace_rows,
    rows_as_markdown,
    run_check,
    table_metadata,
)

# DuckDB lets one process at a time open the file for writing. Everything that opens it is in
# this pool, and dagster.yaml limits the pool to 1, so runs queue in Dagster instead of
# retrying on the file lock.
DUCKDB_POOL = "duckdb"


# Ingestion


@dg.asset(kinds={"duckdb"}, group_name="ingestion", pool=DUCKDB_POOL)
def products(duckdb: DuckDBResource, csv_folder: CsvFolder) -> dg.MaterializeResult:
    """Product catalogue from products.csv: one row per product."""
    return load_csv("products", duckdb, csv_folder)


@dg.asset(kinds={"duckdb"}, group_name="ingestion", pool=DUCKDB_POOL)
def sales_reps(duckdb: DuckDBResource, csv_folder: CsvFolder) -> dg.MaterializeResult:
    """Sales reps from sales_reps.csv: one row per rep."""
    return load_csv("sales_reps", duckdb, csv_folder)


@dg.asset(kinds={"duckdb"}, group_name="ingestion", pool=DUCKDB_POOL)
def sales_data(duckdb: DuckDBResource, csv_folder: CsvFolder) -> dg.MaterializeResult:
    """Sales from sales_data.csv: one row per order."""
    return load_csv("sales_data", duckdb, csv_folder)


# Checks on the inputs. They are blocking: a failure stops the join, and everything after it,
# from being built from bad inputs in the same run.


@dg.asset_check(asset=products, blocking=True, pool=DUCKDB_POOL)
def product_id_is_unique(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Every product has a product_id, and no two share one."""
    return run_check(
        duckdb,
        queries.duplicate_or_missing_keys("products", "product_id"),
        counted="duplicate_or_missing_product_ids",
        examples="example_product_ids",
    )


@dg.asset_check(asset=sales_reps, blocking=True, pool=DUCKDB_POOL)
def rep_id_is_unique(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Every sales rep has a rep_id, and no two share one."""
    return run_check(
        duckdb,
        queries.duplicate_or_missing_keys("sales_reps", "rep_id"),
        counted="duplicate_or_missing_rep_ids",
        examples="example_rep_ids",
    )


@dg.asset_check(asset=sales_data, blocking=True, pool=DUCKDB_POOL)
def no_negative_sales(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """No sale has a negative quantity or dollar amount."""
    return run_check(
        duckdb,
        queries.NEGATIVE_SALES,
        counted="sales_with_negative_quantity_or_amount",
        examples="example_order_ids",
    )


# The join and its checks


@dg.asset(
    deps=[sales_data, sales_reps, products],
    kinds={"duckdb"},
    group_name="joins",
    pool=DUCKDB_POOL,
)
def joined_data(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Sales left-joined to their rep and product: one row per order."""
    with connect(duckdb) as conn:
        # One statement, so the old table stays whole until the new one is complete.
        conn.execute(queries.JOINED_DATA)
        metadata = table_metadata(conn, "joined_data", order_by="order_id")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=joined_data, blocking=True, pool=DUCKDB_POOL)
def missing_dimension_check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Every sale in joined_data found its rep and its product."""
    return run_check(
        duckdb,
        queries.MISSING_DIMENSIONS,
        counted="rows_missing_rep_or_product",
        examples="example_order_ids",
    )


@dg.asset_check(asset=joined_data, blocking=True, pool=DUCKDB_POOL)
def one_joined_row_per_sale(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """joined_data has exactly as many rows as sales_data: the join fanned nothing out."""
    return run_check(
        duckdb,
        queries.JOIN_FAN_OUT,
        counted="extra_joined_rows",
        examples="example_repeated_order_ids",
    )


# Analysis by month


def partition_range_metadata(context: dg.AssetExecutionContext) -> dict[str, str]:
    """A backfill run writes many partitions at once and Dagster attaches the same metadata to
    each of them, so say which range the row count and preview cover."""
    key_range = context.partition_key_range
    return {"partition_range": f"{key_range.start} to {key_range.end}"}


monthly_partition = dg.MonthlyPartitionsDefinition(start_date="2024-01-01")


@dg.asset(
    deps=[joined_data],
    partitions_def=monthly_partition,
    # A backfill of any number of months is one run that rewrites the whole range at once.
    backfill_policy=dg.BackfillPolicy.single_run(),
    # New upstream data brings the latest month up to date without a manual backfill.
    automation_condition=dg.AutomationCondition.eager(),
    kinds={"duckdb"},
    group_name="analysis",
    pool=DUCKDB_POOL,
)
def monthly_sales_performance(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Sales totals from joined_data: one row per month, rep and product."""
    window = context.partition_time_window
    first_month = window.start.strftime("%Y-%m")
    end_month = window.end.strftime("%Y-%m")
    with connect(duckdb) as conn:
        metadata = replace_rows(
            conn,
            table="monthly_sales_performance",
            create=queries.CREATE_MONTHLY_SALES_PERFORMANCE,
            where=queries.MONTHLY_PARTITION_FILTER,
            where_params=[first_month, end_month],
            insert=queries.INSERT_MONTHLY_SALES_PERFORMANCE,
            insert_params=[window.start.date(), window.end.date()],
            order_by="partition_date, total_dollar_amount desc",
        )
    return dg.MaterializeResult(metadata={**metadata, **partition_range_metadata(context)})


# Analysis by product category

product_category_partition = dg.StaticPartitionsDefinition(
    ["Electronics", "Books", "Home and Garden", "Clothing"]
)


@dg.asset(
    deps=[joined_data],
    partitions_def=product_category_partition,
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=dg.AutomationCondition.eager(),
    kinds={"duckdb"},
    group_name="analysis",
    pool=DUCKDB_POOL,
)
def product_performance(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Sales totals from joined_data: one row per product category and product."""
    categories = context.partition_keys
    with connect(duckdb) as conn:
        metadata = replace_rows(
            conn,
            table="product_performance",
            create=queries.CREATE_PRODUCT_PERFORMANCE,
            where=queries.CATEGORY_PARTITION_FILTER,
            where_params=[categories],
            insert=queries.INSERT_PRODUCT_PERFORMANCE,
            insert_params=[categories],
            order_by="product_category, total_dollar_amount desc",
        )
    return dg.MaterializeResult(metadata={**metadata, **partition_range_metadata(context)})


# Ad hoc requests: a JSON file dropped into data/requests/ becomes one report run.


@dg.asset(deps=[joined_data], kinds={"duckdb"}, group_name="analysis", pool=DUCKDB_POOL)
def adhoc_request(config: AdhocRequestConfig, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Sales from joined_data for one request: one row per rep of a department, for a product."""
    with connect(duckdb) as conn:
        row_count, result = rows_as_markdown(conn.execute(ADHOC_REQUEST, config.parameters()))
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
    asset_checks=[
        product_id_is_unique,
        rep_id_is_unique,
        no_negative_sales,
        missing_dimension_check,
        one_joined_row_per_sale,
    ],
    jobs=[adhoc_request_job],
    schedules=[weekly_update_schedule],
    sensors=[adhoc_request_sensor, automation_sensor],
    resources={
        "duckdb": DuckDBResource(
            database=os.getenv("DUCKDB_DATABASE", str(DATA_DIR / "mydb.duckdb"))
        ),
        "csv_folder": CsvFolder(),
        "request_folder": RequestFolder(),
    },
)
