"""Write, audit, publish: how every table people read is replaced. New rows are built beside
the table, audited, and swapped in within one transaction only if every blocking check passes;
a partition rewrite commits only if its totals reconcile with joined_data's."""

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from functools import partial
from typing import TypeVar

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from etl_tutorial.audits import EXAMPLES, Audit, describe_failures, run_audits
from etl_tutorial.metadata import partitions_metadata, table_metadata
from etl_tutorial.queries import PartitionedTable

TOTALS_CHECK = "totals_match_joined_data"
T = TypeVar("T")


@contextmanager
def connect(duckdb_resource: DuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """`DuckDBResource.get_connection`, closing the connection even when the block raises.

    The resource closes it only on success; after a failure the traceback keeps it open, and
    with it the file lock, for as long as the error is kept (a whole in-process run or test).
    """
    with duckdb_resource.get_connection() as conn, closing(conn):
        yield conn


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commits what the block wrote, or rolls all of it back if the block raises."""
    conn.execute("begin transaction")
    try:
        yield
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")


def staged(table: str) -> str:
    """Where the new rows of `table` wait for their audits before they are published."""
    return f"{table}__staged"


def publish(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    *,
    select: str,
    params: Sequence[object] = (),
    audits: Sequence[Audit],
    key: str,
    order_by: str,
    source: str,
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """Write, audit, publish: builds `table`'s new rows from `select` into a staged table,
    runs every audit on them, and only if all pass swaps them in for the old rows, all in one
    transaction (written again if another writer's commit conflicts, `retry_on_conflict`).
    Otherwise the audits' results are reported, the run fails with what was wrong, and `table`
    keeps its last good rows, with no new materialization recorded.

    `select` is SQL owned by this package; `params` are its values. `source` names the input
    (a file, or the tables joined) in the failure message.
    """
    new_rows = staged(table)
    audit = partial(run_audits, conn, new_rows, audits, asset=table, key=key, order_by=order_by)

    def write_audit_swap() -> list[dg.AssetCheckResult]:
        # One transaction: a failure anywhere rolls back the staged rows with it, and in lake
        # mode no other writer ever sees them.
        with transaction(conn):
            conn.execute(f"create or replace table {new_rows} as {select}", params)  # noqa: S608
            (row_count,) = conn.execute(f"select count(*) from {new_rows}").fetchone()  # noqa: S608
            if row_count == 0:
                raise dg.Failure(
                    description=f"{source} has no rows; {table} is unchanged.",
                    metadata={"source": source},
                )
            results = audit()
            if not all(result.passed for result in results):
                raise _Rejected(results)
            conn.execute(f"drop table if exists {table}")
            conn.execute(f"alter table {new_rows} rename to {table}")
        return results

    try:
        results = retry_on_conflict(write_audit_swap, table)
    except _Rejected as rejected:
        results = rejected.results
        if order_by == "rowid":
            results = _audited_in_file_order(conn, new_rows, select, params, audit)
        failed = [result for result in results if not result.passed]
        yield from results
        raise dg.Failure(
            description=(
                f"{source}: {len(failed)} of {len(results)} blocking checks failed, "
                f"so {table} keeps its last good rows.\n{describe_failures(failed, key)}"
            ),
            metadata={"source": source, "failed_checks": [result.check_name for result in failed]},
        ) from None
    yield dg.MaterializeResult(
        metadata=table_metadata(conn, table, order_by=key), check_results=results
    )


def _audited_in_file_order(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    select: str,
    params: Sequence[object],
    audit: Callable[[], list[dg.AssetCheckResult]],
) -> list[dg.AssetCheckResult]:
    """The audits again, on rows loaded in file order: examples name rows by their place in
    the file (rowid), which rows in a transaction, or loaded in parallel (the resource turns
    preserve_insertion_order off), do not have. Into a temporary table of this connection's
    own, on the path of a refused load only."""
    (keeps_order,) = conn.execute("select current_setting('preserve_insertion_order')").fetchone()
    conn.execute("set preserve_insertion_order = true")
    try:
        conn.execute(f"create or replace temp table {name} as {select}", params)  # noqa: S608
        return audit()
    finally:
        conn.execute(f"drop table if exists temp.{name}")
        conn.execute(f"set preserve_insertion_order = {'true' if keeps_order else 'false'}")


class _Rejected(Exception):
    """Raised inside a write's transaction to roll it back, with the check results that
    refused it."""

    def __init__(self, results: Sequence[dg.AssetCheckResult], partitions: Sequence[str] = ()):
        super().__init__()
        self.results = results
        self.partitions = partitions


# Lake mode lets many writers commit at once (DuckLake over PostgreSQL). A commit that collides
# with another writer's change to the same table fails whole, rolled back: the write is done
# again from the start, after a random pause that grows with each attempt, so no write is lost
# or doubled. DuckDB's own file has one writer, and never conflicts.
CONFLICT_ATTEMPTS = 8


def retry_on_conflict(write: Callable[[], T], table: str) -> T:
    """`write()`, done again while its commit conflicts with another writer's."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return write()
        except duckdb.TransactionException as error:
            if "Transaction conflict" not in str(error):
                raise
            if attempt == CONFLICT_ATTEMPTS:
                raise dg.Failure(
                    description=(
                        f"{table}: {CONFLICT_ATTEMPTS} commits in a row conflicted with other "
                        f"writers' changes to it, so it is unchanged; run it again."
                    ),
                    metadata={"duckdb_error": str(error)},
                ) from error
        dg.get_dagster_logger().warning(
            f"{table}: another writer committed a change to it first; writing again "
            f"(attempt {attempt + 1} of {CONFLICT_ATTEMPTS})"
        )
        time.sleep(random.uniform(0, min(5.0, 0.2 * 2**attempt)))  # noqa: S311
    raise AssertionError("the last attempt returns or raises")


def rewrite_partitions(
    conn: duckdb.DuckDBPyConnection,
    sql: PartitionedTable,
    *,
    keys: Sequence[str],
    params: dict[str, object],
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """Rewrites the rows of `sql.table` in the partitions `keys`, which `params` name, from
    `sql.select`, in one transaction that commits only if `sql.reconcile` finds no partition
    whose totals differ from joined_data's.

    Every value from outside the package travels in `params`, bound once by name and shared
    by the delete, the insert, the reconciliation and the preview.
    """

    def write() -> dg.AssetCheckResult:
        # The first write creates the table, with the types of the select's columns.
        conn.execute(
            f"create table if not exists {sql.table} as {sql.select} with no data",  # noqa: S608
            params,
        )
        # Delete and insert commit together: a failed insert leaves the previous rows in
        # place, and re-running the same partitions never duplicates them.
        with transaction(conn):
            conn.execute(f"delete from {sql.table} where {sql.rows}", params)  # noqa: S608
            conn.execute(f"insert into {sql.table} {sql.select}", params)  # noqa: S608
            mismatched = [
                partition for (partition,) in conn.execute(sql.reconcile, params).fetchall()
            ]
            totals = dg.AssetCheckResult(
                check_name=TOTALS_CHECK,
                passed=not mismatched,
                metadata={
                    "partitions_with_other_totals": len(mismatched),
                    "example_partitions": dg.MetadataValue.json(mismatched[:EXAMPLES]),
                },
            )
            if mismatched:
                raise _Rejected([totals], partitions=mismatched)
        return totals

    try:
        totals = retry_on_conflict(write, sql.table)
    except _Rejected as rejected:
        yield from rejected.results
        mismatched = rejected.partitions
        raise dg.Failure(
            description=(
                f"{sql.table}: the totals of {len(mismatched)} partition(s) differ from "
                f"joined_data's ({', '.join(mismatched[:EXAMPLES])}); the write was rolled back."
            ),
            metadata={"partitions_with_other_totals": mismatched},
        ) from None
    yield dg.MaterializeResult(
        metadata=partitions_metadata(conn, sql, keys=keys, params=params),
        check_results=[totals],
    )


def totals_check(asset: str) -> dg.AssetCheckSpec:
    """The reconciliation every partitioned asset declares: see `rewrite_partitions`."""
    return dg.AssetCheckSpec(
        TOTALS_CHECK,
        asset=asset,
        blocking=True,
        description="The partitions written have the same money and unit totals as joined_data.",
    )
