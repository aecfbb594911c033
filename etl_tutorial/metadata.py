"""What a materialization shows in Dagster's UI about a table: its row count, column schema and
a markdown preview, and for a partitioned table each written partition's rows and totals."""

import re
from collections.abc import Sequence
from decimal import Decimal

import dagster as dg
import duckdb
from tabulate import tabulate

from etl_tutorial.queries import PartitionedTable

PREVIEW_ROWS = 10


def partitions_metadata(
    conn: duckdb.DuckDBPyConnection,
    sql: PartitionedTable,
    *,
    keys: Sequence[str],
    params: dict[str, object],
) -> dict[str, object]:
    """What a run that wrote the partitions `keys` reports.

    Dagster records the same metadata on every partition of a run (it has no metadata per
    partition), so nothing here may read as one partition's figures unless the run wrote
    only that partition: every partition's rows and totals are listed by key, and a row count
    and preview are given only when there is one partition.
    """
    _, summary = rows_as_markdown(conn.execute(sql.summary, {"keys": list(keys)}))
    metadata = {
        "partitions_written": dg.MetadataValue.text(
            keys[0] if len(keys) == 1 else f"{len(keys)}: {keys[0]} to {keys[-1]}"
        ),
        "rows_and_totals_by_partition": summary,
    }
    if len(keys) == 1:
        table = table_metadata(
            conn, sql.table, where=sql.rows, params=params, order_by=sql.order_by
        )
        metadata["dagster/partition_row_count"] = table.pop("dagster/row_count")
        metadata.update(table)
    else:
        metadata["dagster/column_schema"] = column_schema(conn, sql.table)
    return metadata


def table_metadata(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    *,
    where: str = "true",
    params: Sequence[object] | dict[str, object] = (),
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
    return {
        "dagster/row_count": row_count,
        "dagster/column_schema": column_schema(conn, table),
        "preview": preview,
    }


def column_schema(conn: duckdb.DuckDBPyConnection, table: str) -> dg.TableSchema:
    columns = conn.execute(
        "select name, type from pragma_table_info(?) order by cid", [table]
    ).fetchall()
    return dg.TableSchema(
        columns=[dg.TableColumn(name, column_type) for name, column_type in columns]
    )


def rows_as_markdown(
    cursor: duckdb.DuckDBPyConnection,
) -> tuple[list[tuple], dg.MarkdownMetadataValue]:
    """The rows of an executed query, and the same rows as a markdown table."""
    headers = [column[0] for column in cursor.description]
    rows = cursor.fetchall()
    return rows, markdown_table(headers, rows)


def markdown_table(headers: Sequence[str], rows: Sequence[tuple]) -> dg.MarkdownMetadataValue:
    """`rows` under `headers` as a markdown table: one table row per row whatever its values
    hold, numbers right-aligned, money with two decimals and thousands separators (never
    scientific notation)."""
    numeric = [
        any(value is not None for value in column)
        and all(_is_number(value) for value in column if value is not None)
        for column in zip(*rows, strict=True)
    ]
    table = tabulate(
        [[_cell(value) for value in row] for row in rows],
        headers=[_cell(header) for header in headers],
        tablefmt="pipe",
        colalign=["right" if is_number else "left" for is_number in numeric] or None,
        disable_numparse=True,
    )
    return dg.MetadataValue.md(table)


# A preview shows this much of a long text value.
PREVIEW_TEXT = 60
# Characters a markdown table cell would otherwise read as its end (|), as an escape (\), or
# as formatting; each is written escaped so it shows as itself.
MARKDOWN_SPECIAL = re.compile(r"([\\|*_`\[\]<>~&])")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _cell(value: object) -> str:
    """One value as the text of a markdown table cell."""
    if value is None:
        return ""
    if isinstance(value, Decimal | float):
        return f"{value:,.2f}"
    text = str(value)
    if len(text) > PREVIEW_TEXT:
        text = text[: PREVIEW_TEXT - 1] + "…"
    # A line break would end the table row; show it as a symbol instead.
    text = " ↵ ".join(text.splitlines())
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)
