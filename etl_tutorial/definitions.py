"""Dagster's ETL tutorial: sales CSVs into DuckDB, joined, checked, and analysed by month and
by product category."""

import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from etl_tutorial import audits, overview, queries
from etl_tutorial.adhoc import (
    AdhocRequestConfig,
    RequestFolder,
    request_metadata,
    require_known_names,
    scan_requests,
)
from etl_tutorial.catalog import declared_here, stored_as
from etl_tutorial.overview import ChartFolder
from etl_tutorial.sources import DATA_DIR, CsvFolder, load_csv, observe_csv
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

# Every table that people and later assets read is written, audited, then published: its new
# rows are built beside it, every blocking check below runs on them, and they replace the old
# rows in one transaction only if all pass. A failed check fails the run, shows on the
# asset's Checks tab with its count and first offending keys, and leaves the last good rows.
# The rules that decide where a sale lands come from the partitions definitions themselves,
# so every sale counts in exactly one month and one category, or the load is refused.


# When assets run by themselves (the automation sensor at the end evaluates these)

# The CSVs themselves are in the asset graph as observable sources. Each is observed every
# minute; its data version is a hash of its content, so a changed file, and only a changed
# file, makes its table and everything downstream of it load again.
OBSERVE_EVERY_MINUTE = dg.AutomationCondition.cron_tick_passed("* * * * *")

# An unpartitioned asset refreshes as soon as anything upstream has new data, once every
# blocking check upstream has passed.
UPSTREAM_CHANGED = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
)

# A partitioned one rewrites every partition, not only the latest month as eager() alone
# would: a changed sale can be in any month. The sensor turns a request for many partitions
# into a backfill, which the single-run policy makes one run per asset.
EVERY_PARTITION_UPSTREAM_CHANGED = (
    dg.AutomationCondition.eager()
    .without(dg.AutomationCondition.in_latest_time_window())
    .with_label("eager, every partition")
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
)


# Ingestion


def csv_file(table: str) -> dg.SourceAsset:
    """The CSV `table` is loaded from, as the source asset `<table>_csv`."""

    def observe(csv_folder: CsvFolder) -> dg.ObserveResult:
        return observe_csv(csv_folder.csv_for(table))

    return dg.observable_source_asset(
        name=f"{table}_csv",
        description=f"{table}.csv in the CSV folder, observed every minute.",
        group_name="ingestion",
        automation_condition=OBSERVE_EVERY_MINUTE,
        metadata=declared_here(observe),
    )(observe)


# The three ingestion assets differ only in their CSV and their checks, so one function
# declares each of them.


def csv_table(
    table: str, csv: dg.SourceAsset, checks: list[audits.Audit], description: str
) -> dg.AssetsDefinition:
    """The asset `table`: its CSV loaded, audited by `checks`, then published."""

    @dg.asset(
        name=table,
        deps=[csv],
        description=description,
        metadata={**stored_as(table), **declared_here()},
        kinds={"duckdb"},
        group_name="ingestion",
        pool=DUCKDB_POOL,
        check_specs=audits.specs(table, checks),
        automation_condition=UPSTREAM_CHANGED,
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

products_csv = csv_file("products")
products = csv_table(
    "products",
    products_csv,
    PRODUCT_CHECKS,
    "Product catalogue from products.csv: one row per product.",
)


SALES_REP_CHECKS = [
    *audits.not_null("rep_id", "hire_date", source="sales_reps.csv"),
    audits.unique("rep_id", source="sales_reps.csv"),
]

sales_reps_csv = csv_file("sales_reps")
sales_reps = csv_table(
    "sales_reps",
    sales_reps_csv,
    SALES_REP_CHECKS,
    "Sales reps from sales_reps.csv: one row per rep.",
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

sales_data_csv = csv_file("sales_data")
sales_data = csv_table(
    "sales_data", sales_data_csv, SALES_CHECKS, "Sales from sales_data.csv: one row per order."
)


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
    automation_condition=UPSTREAM_CHANGED,
    metadata=stored_as("joined_data"),
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

# What both partitioned analysis assets share. A backfill of any number of partitions is
# one run that rewrites the whole range at once.
PARTITIONED_ANALYSIS = {
    "deps": [joined_data],
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "automation_condition": EVERY_PARTITION_UPSTREAM_CHANGED,
    "kinds": {"duckdb"},
    "group_name": "analysis",
    "pool": DUCKDB_POOL,
}


@dg.asset(
    partitions_def=monthly_partition,
    check_specs=[totals_check("monthly_sales_performance")],
    metadata=stored_as("monthly_sales_performance"),
    **PARTITIONED_ANALYSIS,
)
def monthly_sales_performance(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Sales totals from joined_data: one row per month, rep and product."""
    window = context.partition_time_window
    with connect(duckdb) as conn:
        yield from rewrite_partitions(
            conn,
            queries.MONTHLY_SALES_PERFORMANCE,
            keys=context.partition_keys,
            params={"start": window.start.date(), "end": window.end.date()},
        )


# Analysis by product category


@dg.asset(
    partitions_def=product_category_partition,
    check_specs=[totals_check("product_performance")],
    metadata=stored_as("product_performance"),
    **PARTITIONED_ANALYSIS,
)
def product_performance(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Sales totals from joined_data: one row per product category and product."""
    with connect(duckdb) as conn:
        yield from rewrite_partitions(
            conn,
            queries.PRODUCT_PERFORMANCE,
            keys=context.partition_keys,
            params={"categories": context.partition_keys},
        )


# The sales overview: what a sales manager looks at first


@dg.asset(
    deps=[monthly_sales_performance, product_performance],
    kinds={"duckdb", "matplotlib"},
    group_name="analysis",
    pool=DUCKDB_POOL,
    automation_condition=UPSTREAM_CHANGED,
)
def sales_overview(duckdb: DuckDBResource, chart_folder: ChartFolder) -> dg.MaterializeResult:
    """Revenue per month and per product of each category, as charts and their numbers."""
    with connect(duckdb) as conn:
        return overview.draw_overview(conn, chart_folder)


# Ad hoc requests: a JSON file dropped into data/requests/ becomes one report run.


@dg.asset(deps=[joined_data], kinds={"duckdb"}, group_name="analysis", pool=DUCKDB_POOL)
def adhoc_request(
    context: dg.AssetExecutionContext, config: AdhocRequestConfig, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Sales from joined_data for one request: one row per rep of a department, for a product."""
    with connect(duckdb) as conn:
        # A misspelt name fails here; a known one without sales in the dates reports 0 rows.
        require_known_names(conn, config)
        rows, result = rows_as_markdown(conn.execute(queries.ADHOC_REQUEST, config.parameters()))
    return dg.MaterializeResult(
        metadata={
            **request_metadata(config, context.run.tags),
            "summary": config.summary(len(rows)),
            "dagster/row_count": len(rows),
            "result": result,
        }
    )


adhoc_request_job = dg.define_asset_job("adhoc_request_job", selection=[adhoc_request])


@dg.sensor(job=adhoc_request_job)
def adhoc_request_sensor(
    context: dg.SensorEvaluationContext, request_folder: RequestFolder
) -> dg.SensorResult:
    """One run of adhoc_request_job per new or changed data/requests/*.json file."""
    scan = scan_requests(Path(request_folder.path), context.cursor)
    for line in scan.skipped:
        context.log.warning(line)
    # A tick shows the runs it requested or, with none, its skip reason: the skipped files.
    return dg.SensorResult(
        run_requests=scan.run_requests, skip_reason=scan.skip_reason, cursor=scan.cursor
    )


# Automation

weekly_update_schedule = dg.ScheduleDefinition(
    name="weekly_update_schedule",
    target=dg.AssetSelection.assets(joined_data).upstream(),
    cron_schedule="0 0 * * 1",  # Mondays at 00:00
)

# Evaluates the automation conditions above, the CSVs' observations included. Dagster would
# create this sensor stopped; it is declared here to be running from the first `dagster dev`.
# It must target every asset with a condition: Dagster would otherwise add its own, stopped,
# in place of this one.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor",
    target=dg.AssetSelection.all(include_sources=True),
    default_status=dg.DefaultSensorStatus.RUNNING,
)


# Where the data lives. Each setting is read from the environment here, once; by default
# everything is in the checkout's data/ folder, wherever Dagster is started from.
def resources(env: Mapping[str, str]) -> dict[str, dg.ConfigurableResource]:
    return {
        "duckdb": DuckDBResource(
            database=env.get("DUCKDB_DATABASE", str(DATA_DIR / "mydb.duckdb")),
            connection_config={
                # Rows need not stay in file order: DuckDB then loads and writes in parallel
                # and checkpoints at once (10M sales rows: 12 s instead of 16 s). Nothing
                # depends on the order but the examples of a failed check, which reload it.
                "preserve_insertion_order": False,
                # Past this, DuckDB spills to a temporary folder beside the database instead
                # of growing: 100M sales rows build in 1.6 GiB. (At 1GB they peak at 1.1 GiB,
                # but the partitioned steps take 1.3 to 2.5 s longer.)
                "memory_limit": env.get("DUCKDB_MEMORY_LIMIT", "1500MB"),
            },
        ),
        "csv_folder": CsvFolder(path=env.get("SALES_CSV_DIR", str(DATA_DIR))),
        "chart_folder": ChartFolder(path=env.get("SALES_CHART_DIR", str(DATA_DIR / "charts"))),
        "request_folder": RequestFolder(
            path=env.get("ADHOC_REQUEST_DIR", str(DATA_DIR / "requests"))
        ),
    }


defs = dg.Definitions(
    # Each asset links to the line its code starts on (a factory-made one also to the line
    # that declares it), shown in the UI with its definition.
    assets=dg.with_source_code_references(
        [
            products_csv,
            products,
            sales_reps_csv,
            sales_reps,
            sales_data_csv,
            sales_data,
            joined_data,
            monthly_sales_performance,
            product_performance,
            sales_overview,
            adhoc_request,
        ]
    ),
    jobs=[adhoc_request_job],
    # Every step opens the one DuckDB file and waits for the pool's one slot, so steps never
    # run side by side: run them in the run's own process instead of one process each.
    executor=dg.in_process_executor,
    schedules=[weekly_update_schedule],
    sensors=[adhoc_request_sensor, automation_sensor],
    resources=resources(os.environ),
)
