"""What the benchmark times, each run in a fresh child process so that its peak memory is its own:

    python -m benchmarks.workloads pipeline|floor CSV_DIR DATABASE

prints one JSON object of timings in seconds.
"""

import json
import os
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from etl_tutorial import definitions, queries
from etl_tutorial.audits import run_audits
from etl_tutorial.csv_files import CSV_COLUMNS, key_of, read_csv_sql
from etl_tutorial.definitions import defs, monthly_partition, product_category_partition
from etl_tutorial.publishing import connect

warnings.filterwarnings("ignore", category=dg.BetaWarning)

ONE_MONTH = "2024-06-01"


def pipeline(csv_dir: str, database: str) -> dict[str, float]:
    """Every asset and check in-process with dg.materialize, each partitioned asset as one
    range run; then a rebuild of joined_data against one monthly partition."""
    # The resources `defs` builds from its environment, DuckDB's settings included.
    resources = definitions.resources(
        {
            **os.environ,
            "DUCKDB_DATABASE": database,
            "SALES_CSV_DIR": csv_dir,
            "SALES_CHART_DIR": str(Path(database).parent / "charts"),
        }
    )
    assets = list(defs.assets)

    def run(selection, **kwargs) -> dg.ExecuteInProcessResult:
        return dg.materialize(assets, selection=selection, resources=resources, **kwargs)

    def all_partitions(partitions_def) -> dict[str, str]:
        keys = partitions_def.get_partition_keys()
        return {
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1],
        }

    start = time.perf_counter()
    run(["products", "sales_reps", "sales_data", "joined_data"])
    run(["monthly_sales_performance"], tags=all_partitions(monthly_partition))
    run(["product_performance"], tags=all_partitions(product_category_partition))
    full = time.perf_counter() - start

    joined = run(["joined_data"])
    month = run(["monthly_sales_performance"], partition_key=ONE_MONTH)
    return {
        "pipeline": full,
        "checks": _checks_seconds(resources["duckdb"]),
        "joined_data_step": _step_seconds(joined, "joined_data"),
        "one_month_step": _step_seconds(month, "monthly_sales_performance"),
    }


# Each partitioned table's SQL, with the parameters that name all of its partitions. (Pairs,
# not a dict: a PartitionedTable holds a dict of totals, so it cannot be a key.)
EVERY_PARTITION = [
    (
        queries.MONTHLY_SALES_PERFORMANCE,
        {"start": monthly_partition.start.date(), "end": date.today()},
    ),
    (
        queries.PRODUCT_PERFORMANCE,
        {"categories": product_category_partition.get_partition_keys()},
    ),
]

# Every blocking check the pipeline runs, by the table it audits.
CHECKS = {
    "products": definitions.PRODUCT_CHECKS,
    "sales_reps": definitions.SALES_REP_CHECKS,
    "sales_data": definitions.SALES_CHECKS,
    "joined_data": definitions.JOINED_DATA_CHECKS,
}


def _checks_seconds(database: DuckDBResource) -> float:
    """The checks' share of the pipeline: every audit and both reconciliations, over every
    partition, run again on the tables the pipeline published, with the pipeline's settings."""
    with connect(database) as conn:
        start = time.perf_counter()
        for table, audits in CHECKS.items():
            key = "order_id" if table == "joined_data" else key_of(table)
            results = run_audits(conn, table, audits, asset=table, key=key, order_by="rowid")
            assert all(result.passed for result in results), table
        for sql, params in EVERY_PARTITION:
            assert conn.execute(sql.reconcile, params).fetchall() == []
        return time.perf_counter() - start


def floor(csv_dir: str, database: str) -> dict[str, float]:
    """The pipeline's SQL straight into DuckDB: no orchestrator, no metadata, no checks, and
    money read as decimal(18, 2) directly, as plain DuckDB would."""
    start = time.perf_counter()
    with duckdb.connect(database) as conn:
        for table in CSV_COLUMNS:
            conn.execute(
                f"create table {table} as {read_csv_sql(table, money='decimal')}",
                [f"{csv_dir}/{table}.csv"],
            )
        conn.execute(f"create table joined_data as {queries.JOINED_DATA}")
        for sql, params in EVERY_PARTITION:
            conn.execute(f"create table {sql.table} as {sql.select}", params)  # noqa: S608
    return {"floor": time.perf_counter() - start}


def _step_seconds(result: dg.ExecuteInProcessResult, step_key: str) -> float:
    (event,) = [
        e
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.STEP_SUCCESS and e.step_key == step_key
    ]
    return event.event_specific_data.duration_ms / 1000


if __name__ == "__main__":
    workload, csv_dir, database = sys.argv[1:]
    print(json.dumps({"pipeline": pipeline, "floor": floor}[workload](csv_dir, database)))
