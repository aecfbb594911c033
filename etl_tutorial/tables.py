"""Small DuckDB helpers the assets share: a connection, a transaction, a partition rewrite,
and table metadata."""

from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from tabulate import tabulate

from etl_tutorial.queries import CheckQuery

PREVIEW_ROWS = 10


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


def run_check(
    duckdb_resource: DuckDBResource, check: CheckQuery, *, counted: str, examples: str
) -> dg.AssetCheckResult:
    """Passes when `check` counts nothing; otherwise its metadata says how many and which.

    The metadata keys name what was counted, so a failure explains itself in the UI.
    """
    with connect(duckdb_resource) as conn:
        (count,) = conn.execute(check.count).fetchone()
        first = [key for (key,) in conn.execute(check.examples).fetchall()] if count else []
    return dg.AssetCheckResult(
        passed=count == 0,
        metadata={counted: count, examples: dg.MetadataValue.json(first)},
    )


def replace_rows(
    conn: duckdb.DuckDBPyConnection,
    *,
    table: str,
    create: str,
    where: str,
    where_params: Sequence[object],
    insert: str,
    insert_params: Sequence[object],
    order_by: str,
) -> dict[str, object]:
    """Rewrites the rows of `table` matching `where` from `insert`, in one transaction.

    `table`, `create`, `where`, `insert` and `order_by` are SQL owned by this package;
    every value from outside it travels in the parameter lists.
    """
    conn.execute(create)
    # Delete and insert commit together: a failed insert leaves the previous rows in place,
    # and re-running the same partitions never duplicates them.
    with transaction(conn):
        conn.execute(f"delete from {table} where {where}", where_params)  # noqa: S608
        conn.execute(insert, insert_params)
    return table_metadata(conn, table, where=where, params=where_params, order_by=order_by)


def table_metadata(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    *,
    where: str = "true",
    params: Sequence[object] = (),
    order_by: str,
) -> dict[str, object]:
    """Row count, column schema and a markdown preview of the rows of `table` matching `where`."""
    (row_count,) = conn.execute(
        f"select count(*) from {table} where {where}",  # noqa: S608
        params,
    ).fetchone()
    _, preview = rows_as_markdown(
        conn.execute(
            f"select * from {table} where {where} order by {order_by} limit {PREVIEW_ROWS}",  # noqa: S608
            params,
        )
    )
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return {
        "dagster/row_count": row_count,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, column_type) for name, column_type in columns]
        ),
        "preview": preview,
    }


def rows_as_markdown(
    cursor: duckdb.DuckDBPyConnection,
) -> tuple[int, dg.MarkdownMetadataValue]:
    """The number of rows of an executed query, and the rows as a markdown table.

    Values are printed as DuckDB returns them (Decimal, date), so money keeps two decimals
    and never turns into scientific notation.
    """
    headers = [column[0] for column in cursor.description]
    rows = cursor.fetchall()
    return len(rows), dg.MetadataValue.md(
        tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    )
