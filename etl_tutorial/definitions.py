"""Dagster's ETL tutorial: sales CSVs loaded into DuckDB, joined, checked, and analysed by
month and by product category. Every table is written, audited, then published: a failed
blocking check fails the run and leaves the last good rows (etl_tutorial/publishing.py)."""

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from etl_tutorial import adhoc, audits, queries
from etl_tutorial.csv_files import CsvFolder, load_csv, observe_changed_csvs, observe_csv
from etl_tutorial.lake import DuckLakeResource, celery_executor
from etl_tutorial.overview import ChartFolder, draw_overview
from etl_tutorial.partitions import (
    dates_in_a_month,
    monthly_partition,
    product_category_partition,
)
from etl_tutorial.paths import DATA_DIR
from etl_tutorial.publishing import connect, publish, rewrite_partitions, totals_check

# DuckDB lets one process at a time write its file. Every asset that opens it is in this pool,
# which dagster.yaml limits to 1, so runs queue in Dagster instead of failing on the file lock.
DUCKDB_POOL = "duckdb"

# When assets run by themselves (the automation sensor at the end evaluates these): a table
# refreshes once something upstream has new data and every blocking check upstream has passed.
# eager() forgets a table missing on the instance's first evaluation, and an observation
# recorded just before it: the first build must not depend on which daemon ticks first, so a
# table still missing at the second evaluation counts as newly missing.
MISSING = (
    dg.AutomationCondition.newly_missing()
    | dg.AutomationCondition.missing() & (~dg.AutomationCondition.initial_evaluation()).newly_true()
).with_label("newly missing, or missing after the first evaluation")
WHEN_UPSTREAM_CHANGES = (
    dg.AutomationCondition.eager().replace("newly_missing", MISSING)
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
)
# The weekly schedule (below) rebuilds joined_data every Monday, and automation the overview
# after it: a week without a new materialization warns, and a day more fails, in the UI.
AT_LEAST_WEEKLY = dg.FreshnessPolicy.time_window(
    warn_window=timedelta(days=7, hours=1), fail_window=timedelta(days=8)
)
# A partitioned table rewrites every partition, not only the latest month as eager() alone
# would: a changed sale can be in any month.
EVERY_PARTITION_WHEN_UPSTREAM_CHANGES = (
    dg.AutomationCondition.eager()
    .replace("newly_missing", MISSING)
    .without(dg.AutomationCondition.in_latest_time_window())
    .with_label("eager, every partition")
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
)


# Ingestion: each CSV is an observable source (its data version is a hash of its content), and
# its table is loaded from it with explicit column types, then audited before it is published.
# csv_observation_sensor, below, records the observations.
@dg.observable_source_asset(
    description="products.csv in the CSV folder, observed by csv_observation_sensor.",
    group_name="ingestion",
)
def products_csv(csv_folder: CsvFolder) -> dg.ObserveResult:
    return observe_csv(csv_folder.csv_for("products"))


# The product categories are the partitions of product_performance, so they are also the only
# categories products.csv may use.
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


@dg.asset(
    deps=[products_csv],
    kinds={"duckdb"},
    group_name="ingestion",
    pool=DUCKDB_POOL,
    check_specs=audits.specs("products", PRODUCT_CHECKS),
    automation_condition=WHEN_UPSTREAM_CHANGES,
    metadata={"dagster/table_name": "main.products"},
)
def products(duckdb: DuckDBResource, csv_folder: CsvFolder):
    """Product catalogue from products.csv: one row per product."""
    yield from load_csv("products", duckdb, csv_folder, PRODUCT_CHECKS)


@dg.observable_source_asset(
    description="sales_reps.csv in the CSV folder, observed by csv_observation_sensor.",
    group_name="ingestion",
)
def sales_reps_csv(csv_folder: CsvFolder) -> dg.ObserveResult:
    return observe_csv(csv_folder.csv_for("sales_reps"))


SALES_REP_CHECKS = [
    *audits.not_null("rep_id", "hire_date", source="sales_reps.csv"),
    audits.unique("rep_id", source="sales_reps.csv"),
]


@dg.asset(
    deps=[sales_reps_csv],
    kinds={"duckdb"},
    group_name="ingestion",
    pool=DUCKDB_POOL,
    check_specs=audits.specs("sales_reps", SALES_REP_CHECKS),
    automation_condition=WHEN_UPSTREAM_CHANGES,
    metadata={"dagster/table_name": "main.sales_reps"},
)
def sales_reps(duckdb: DuckDBResource, csv_folder: CsvFolder):
    """Sales reps from sales_reps.csv: one row per rep."""
    yield from load_csv("sales_reps", duckdb, csv_folder, SALES_REP_CHECKS)


@dg.observable_source_asset(
    description="sales_data.csv in the CSV folder, observed by csv_observation_sensor.",
    group_name="ingestion",
)
def sales_data_csv(csv_folder: CsvFolder) -> dg.ObserveResult:
    return observe_csv(csv_folder.csv_for("sales_data"))


# The months are the partitions of monthly_sales_performance: a sale dated before the first
# one, or after the month in progress, would never be counted in any month.
SALES_CHECKS = [
    *audits.not_null("order_id", "date", "product_id", "rep_id", source="sales_data.csv"),
    *audits.not_null("quantity", "dollar_amount", source="sales_data.csv"),
    audits.unique("order_id", source="sales_data.csv"),
    audits.row_rule(
        "date_is_in_a_partition",
        f"Every sale is dated in a month of monthly_partition: from {monthly_partition.start:%B %Y}"
        " to the month in progress.",
        counted="sales_dated_outside_the_months",
        offending="date < $first_day or date >= $end_day",
        params=dates_in_a_month,
    ),
    audits.row_rule(
        "no_negative_sales",
        "No sale has a negative quantity or dollar amount.",
        counted="sales_with_negative_quantity_or_amount",
        offending="quantity < 0 or dollar_amount < 0",
    ),
]


@dg.asset(
    deps=[sales_data_csv],
    kinds={"duckdb"},
    group_name="ingestion",
    pool=DUCKDB_POOL,
    check_specs=audits.specs("sales_data", SALES_CHECKS),
    automation_condition=WHEN_UPSTREAM_CHANGES,
    metadata={"dagster/table_name": "main.sales_data"},
)
def sales_data(duckdb: DuckDBResource, csv_folder: CsvFolder):
    """Sales from sales_data.csv: one row per order."""
    yield from load_csv("sales_data", duckdb, csv_folder, SALES_CHECKS)


# The join, and its checks.
JOINED_DATA_CHECKS = [
    # The tutorial's missing_dimension_check: runs on the new rows before joined_data is replaced.
    audits.row_rule(
        "missing_dimension_check",
        "Every sale found its rep and its product.",
        counted="rows_missing_rep_or_product",
        offending="rep_name is null or product_name is null",
    ),
    audits.one_row_per("order_id", source="sales_data", name="one_joined_row_per_sale"),
    # Both analysis tables count every sale: one left out of a month or a category would make
    # their totals disagree without either failing its own reconciliation.
    audits.row_rule(
        "counted_in_a_month_and_a_category",
        "Every sale is in a monthly partition and in a category partition.",
        counted="rows_in_no_partition",
        offending="date is null or date < $first_day or date >= $end_day "
        "or category is null or not list_contains($categories, category)",
        params=lambda: {
            **dates_in_a_month(),
            "categories": product_category_partition.get_partition_keys(),
        },
    ),
]


@dg.asset(
    deps=[sales_data, sales_reps, products],
    kinds={"duckdb"},
    group_name="joins",
    pool=DUCKDB_POOL,
    check_specs=audits.specs("joined_data", JOINED_DATA_CHECKS),
    automation_condition=WHEN_UPSTREAM_CHANGES,
    freshness_policy=AT_LEAST_WEEKLY,
    metadata={"dagster/table_name": "main.joined_data"},
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


# Analysis by month (monthly_partition is in partitions.py). A backfill of any range is one run
# (single_run) whose write commits only if its totals reconcile with joined_data.
@dg.asset(
    deps=[joined_data],
    partitions_def=monthly_partition,
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=EVERY_PARTITION_WHEN_UPSTREAM_CHANGES,
    pool=DUCKDB_POOL,
    check_specs=[totals_check("monthly_sales_performance")],
    kinds={"duckdb"},
    group_name="analysis",
    metadata={"dagster/table_name": "main.monthly_sales_performance"},
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


# Analysis by product category (product_category_partition is in partitions.py).
@dg.asset(
    deps=[joined_data],
    partitions_def=product_category_partition,
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=EVERY_PARTITION_WHEN_UPSTREAM_CHANGES,
    pool=DUCKDB_POOL,
    check_specs=[totals_check("product_performance")],
    kinds={"duckdb"},
    group_name="analysis",
    metadata={"dagster/table_name": "main.product_performance"},
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


# The sales overview: what a sales manager looks at first.
@dg.asset(
    deps=[monthly_sales_performance, product_performance],
    kinds={"duckdb", "matplotlib"},
    group_name="analysis",
    pool=DUCKDB_POOL,
    automation_condition=WHEN_UPSTREAM_CHANGES,
    freshness_policy=AT_LEAST_WEEKLY,
)
def sales_overview(duckdb: DuckDBResource, chart_folder: ChartFolder) -> dg.MaterializeResult:
    """Revenue per month and per product of each category, as charts and their numbers."""
    with connect(duckdb) as conn:
        return draw_overview(conn, chart_folder)


# Ad hoc requests: a JSON file dropped into the request folder becomes one report run.
@dg.asset(deps=[joined_data], kinds={"duckdb"}, group_name="analysis", pool=DUCKDB_POOL)
def adhoc_request(
    context: dg.AssetExecutionContext, config: adhoc.AdhocRequestConfig, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Sales from joined_data for one request: one row per rep of a department, for a product."""
    with connect(duckdb) as conn:
        return adhoc.report(conn, config, context.run.tags)


adhoc_request_job = dg.define_asset_job("adhoc_request_job", selection=[adhoc_request])


@dg.sensor(job=adhoc_request_job)
def adhoc_request_sensor(
    context: dg.SensorEvaluationContext, request_folder: adhoc.RequestFolder
) -> dg.SensorResult:
    """One run of adhoc_request_job per new or changed *.json file in the request folder."""
    return adhoc.request_runs(context, Path(request_folder.path))


# Automation


# Observes the CSVs without launching a run: every 10 seconds it looks at each file's size and
# modification time, and records a new data version when the content changed. The automation
# sensor then requests the table loaded from it.
@dg.sensor(minimum_interval_seconds=10, default_status=dg.DefaultSensorStatus.RUNNING)
def csv_observation_sensor(
    context: dg.SensorEvaluationContext, csv_folder: CsvFolder
) -> dg.SensorResult:
    """Records an observation of each CSV whose content changed, with no run."""
    return observe_changed_csvs(context, csv_folder, [products_csv, sales_reps_csv, sales_data_csv])


weekly_update_schedule = dg.ScheduleDefinition(
    name="weekly_update_schedule",
    target=dg.AssetSelection.assets(joined_data).upstream(),
    cron_schedule="0 0 * * 1",  # Mondays at 00:00
)

# Evaluates the automation conditions above. Declared here, it runs from the first `dagster dev`
# (Dagster's own would start stopped); it must target every asset that has a condition.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    # Every 10 s, not Dagster's 30 s: new data waits for a tick at each step of its way.
    minimum_interval_seconds=10,
)


# Where the data lives. Each setting is read from the environment here, once; by default
# everything is in the checkout's data/ folder, wherever Dagster is started from.
def resources(env: Mapping[str, str]) -> dict[str, dg.ConfigurableResource]:
    duckdb_settings = {
        # Rows need not stay in file order, so DuckDB loads and writes in parallel.
        "preserve_insertion_order": False,
        # Past this, DuckDB spills to disk instead of growing (benchmarks/README.md).
        "memory_limit": env.get("DUCKDB_MEMORY_LIMIT", "1500MB"),
    }
    # Lake mode (etl_tutorial/lake.py): the same tables in DuckLake, if a catalog is named.
    if catalog := env.get("DUCKLAKE_CATALOG"):
        if not env.get("DUCKLAKE_DATA_PATH"):
            raise ValueError(
                "DUCKLAKE_CATALOG is set: set DUCKLAKE_DATA_PATH to the Parquet folder"
            )
        warehouse = DuckLakeResource(
            database=catalog,
            data_path=env["DUCKLAKE_DATA_PATH"],
            connection_config=duckdb_settings,
        )
    else:
        warehouse = DuckDBResource(
            database=env.get("DUCKDB_DATABASE", str(DATA_DIR / "mydb.duckdb")),
            connection_config=duckdb_settings,
        )
    return {
        "duckdb": warehouse,
        "csv_folder": CsvFolder(path=env.get("SALES_CSV_DIR", str(DATA_DIR))),
        "chart_folder": ChartFolder(path=env.get("SALES_CHART_DIR", str(DATA_DIR / "charts"))),
        "request_folder": adhoc.RequestFolder(
            path=env.get("ADHOC_REQUEST_DIR", str(DATA_DIR / "requests"))
        ),
    }


# How a run's steps execute. With the DuckDB file they never run side by side (the pool's one
# slot), so they run in the run's own process rather than paying for a process each. In lake
# mode they may: each in a process of its own, or on Celery workers, which may be on other
# machines, when a broker is named (deploy/lake/).
def executor(env: Mapping[str, str]) -> dg.ExecutorDefinition:
    if env.get("DAGSTER_CELERY_BROKER"):
        if not env.get("DUCKLAKE_CATALOG"):
            raise ValueError(
                "DAGSTER_CELERY_BROKER is set: Celery workers share no DuckDB file, so set "
                "DUCKLAKE_CATALOG and DUCKLAKE_DATA_PATH too (docs/scaling.md)"
            )
        return celery_executor()
    if env.get("DUCKLAKE_CATALOG"):
        return dg.multiprocess_executor
    return dg.in_process_executor


defs = dg.Definitions(
    # Each asset links to the line its code starts on, shown in the UI with its definition.
    assets=dg.with_source_code_references(
        [products_csv, products, sales_reps_csv, sales_reps, sales_data_csv, sales_data]
        + [joined_data, monthly_sales_performance, product_performance]
        + [sales_overview, adhoc_request]
    ),
    jobs=[adhoc_request_job],
    executor=executor(os.environ),
    schedules=[weekly_update_schedule],
    sensors=[csv_observation_sensor, adhoc_request_sensor, automation_sensor],
    resources=resources(os.environ),
)
