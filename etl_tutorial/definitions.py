"""Dagster's ETL tutorial: sales CSVs into DuckDB, joined, checked, and analysed by month and
by product category."""

import os

import dagster as dg
from dagster_duckdb import DuckDBResource

from etl_tutorial import queries
from etl_tutorial.sources import DATA_DIR, CsvFolder, load_csv
from etl_tutorial.tables import connect, replace_rows, table_metadata

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


# The join and its check


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
    with connect(duckdb) as conn:
        missing, example_order_ids = conn.execute(queries.MISSING_DIMENSIONS).fetchone()
    return dg.AssetCheckResult(
        passed=missing == 0,
        metadata={
            "rows_missing_rep_or_product": missing,
            "example_order_ids": dg.MetadataValue.json(example_order_ids or []),
        },
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


defs = dg.Definitions(
    assets=[
        products,
        sales_reps,
        sales_data,
        joined_data,
        monthly_sales_performance,
        product_performance,
    ],
    asset_checks=[missing_dimension_check],
    resources={
        "duckdb": DuckDBResource(
            database=os.getenv("DUCKDB_DATABASE", str(DATA_DIR / "mydb.duckdb"))
        ),
        "csv_folder": CsvFolder(),
    },
)
