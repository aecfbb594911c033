"""The three sales CSVs: where they live, their columns and types, and how one becomes a table."""

import csv
import os
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from etl_tutorial.tables import connect, table_metadata, transaction

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"

# Column names and DuckDB types, in file order. Nothing is guessed from the data, so a file
# that does not fit fails loudly instead of loading as text or as floating-point money.
CSV_COLUMNS: dict[str, dict[str, str]] = {
    "products": {
        "product_id": "varchar",
        "product_name": "varchar",
        "category": "varchar",
        "price": "decimal(18, 2)",
    },
    "sales_reps": {
        "rep_id": "varchar",
        "rep_name": "varchar",
        "department": "varchar",
        "hire_date": "date",
    },
    "sales_data": {
        "order_id": "bigint",
        "date": "date",
        "product_id": "varchar",
        "rep_id": "varchar",
        "customer_name": "varchar",
        "quantity": "integer",
        "dollar_amount": "decimal(18, 2)",
    },
}


class CsvFolder(dg.ConfigurableResource):
    """The folder holding products.csv, sales_reps.csv and sales_data.csv."""

    path: str = os.getenv("SALES_CSV_DIR", str(DATA_DIR))

    def csv_for(self, table: str) -> Path:
        return Path(self.path) / f"{table}.csv"


def load_csv(table: str, duckdb: DuckDBResource, csv_folder: CsvFolder) -> dg.MaterializeResult:
    """The body of each ingestion asset: `table` replaced from its CSV in `csv_folder`."""
    with connect(duckdb) as conn:
        metadata = replace_table_from_csv(conn, table, csv_folder.csv_for(table))
    return dg.MaterializeResult(metadata=metadata)


def replace_table_from_csv(
    conn: duckdb.DuckDBPyConnection, table: str, path: Path
) -> dict[str, object]:
    """Replaces `table` with the rows of the CSV at `path` and returns the table's metadata.

    The old table stays as it was unless the whole file loads.
    """
    columns = CSV_COLUMNS[table]
    _check_header(path, list(columns))
    try:
        with transaction(conn):
            conn.execute(create_table_from_csv_sql(table), [str(path)])
            (row_count,) = conn.execute(f"select count(*) from {table}").fetchone()  # noqa: S608
            if row_count == 0:
                raise dg.Failure(
                    description=f"{path.name} has a header but no rows; {table} is unchanged.",
                    metadata={"file": str(path)},
                )
    except duckdb.Error as error:
        raise dg.Failure(
            description=f"{path.name} could not be loaded into {table}: {_first_lines(error)}",
            metadata={"file": str(path), "duckdb_error": str(error)},
        ) from error
    return table_metadata(conn, table, order_by=next(iter(columns)))


def create_table_from_csv_sql(table: str) -> str:
    """`create or replace table` from `read_csv(?)` with the table's explicit column types.

    Column names and types are this module's own constants; the path is the one parameter.
    """
    column_types = ", ".join(
        f"'{name}': '{sql_type}'" for name, sql_type in CSV_COLUMNS[table].items()
    )
    return (
        f"create or replace table {table} as "  # noqa: S608
        "select * from read_csv(?, header = true, auto_detect = false, "
        f"columns = {{{column_types}}})"
    )


def _check_header(path: Path, expected: list[str]) -> None:
    """DuckDB reads columns by position, so a reordered or renamed header must be caught here."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), None)
    except FileNotFoundError:
        raise dg.Failure(
            description=f"{path.name} not found: expected it at {path}",
            metadata={"file": str(path)},
        ) from None
    except UnicodeDecodeError:
        raise dg.Failure(
            description=f"{path.name} is not UTF-8 text; save it as UTF-8 and re-run.",
            metadata={"file": str(path)},
        ) from None
    if header is None:
        raise dg.Failure(
            description=f"{path.name} is empty: expected the header {','.join(expected)}",
            metadata={"file": str(path)},
        )
    header = [name.strip() for name in header]
    if header != expected:
        missing = [name for name in expected if name not in header]
        unexpected = [name for name in header if name not in expected]
        problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
        problems += [f"unexpected column(s) {', '.join(unexpected)}"] if unexpected else []
        problems = problems or ["columns are out of order"]
        raise dg.Failure(
            description=(
                f"{path.name}: {'; '.join(problems)}. "
                f"Expected the header {','.join(expected)}, found {','.join(header)}"
            ),
            metadata={"file": str(path), "expected": expected, "found": header},
        )


def _first_lines(error: duckdb.Error) -> str:
    """DuckDB's CSV errors name the line, the value and the column first, then add advice on
    type detection and the reader's settings, which do not apply here (types are explicit)."""
    lines = []
    for line in str(error).splitlines():
        line = line.strip()
        if line.lower().startswith(("column ", "this type", "possible solution", "file =")):
            break
        if line:
            lines.append(line)
    return " ".join(lines)
