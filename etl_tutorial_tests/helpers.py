"""Helpers the test modules share (fixtures are in conftest.py)."""

import csv
from pathlib import Path

import dagster as dg

from etl_tutorial.definitions import defs, monthly_partition, product_category_partition

UNPARTITIONED = ["products", "sales_reps", "sales_data", "joined_data"]
PARTITIONED = ["monthly_sales_performance", "product_performance"]
# Every table people read, in the order the data flows.
TABLES = UNPARTITIONED + PARTITIONED
MONTHS = monthly_partition.get_partition_keys()
CATEGORIES = product_category_partition.get_partition_keys()
ALL_MONTHS = (MONTHS[0], MONTHS[-1])
ALL_CATEGORIES = (CATEGORIES[0], CATEGORIES[-1])


def rewrite_csv(path: Path, edit) -> None:
    """Rewrites a CSV after `edit(rows)` has changed its parsed rows (header first) in place."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    edit(rows)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def snapshot(query) -> dict[str, list]:
    """Every published table, row for row."""
    return {table: query(f"select * from {table} order by all") for table in TABLES}  # noqa: S608


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    """The assets a run recorded a materialization of."""
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def check_evaluation(result: dg.ExecuteInProcessResult, asset: str, check: str):
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == asset and e.check_name == check
    ]
    return evaluation


def step_failure(result: dg.ExecuteInProcessResult) -> str:
    """The message and description of the run's one failed step."""
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    user_failure = failure.step_failure_data.user_failure_data
    description = user_failure.description if user_failure else ""
    return f"{failure.step_failure_data.error.message} {description}"


ALL_ASSETS = list(defs.assets)
