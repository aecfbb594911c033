"""The three sales CSVs: their columns and types, the folder they are read from, how an
observation fingerprints one, and how one becomes a table (`load_csv`)."""

import csv
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from etl_tutorial.audits import EXAMPLES, Audit
from etl_tutorial.publishing import connect, publish

MONEY = "decimal(18, 2)"

# Column names and DuckDB types, in file order. Nothing is guessed from the data, so a file
# that does not fit fails loudly instead of loading as text or as floating-point money.
CSV_COLUMNS: dict[str, dict[str, str]] = {
    "products": {
        "product_id": "varchar",
        "product_name": "varchar",
        "category": "varchar",
        "price": MONEY,
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
        "dollar_amount": MONEY,
    },
}


class CsvFolder(dg.ConfigurableResource):
    """The folder holding products.csv, sales_reps.csv and sales_data.csv."""

    path: str

    def csv_for(self, table: str) -> Path:
        return Path(self.path) / f"{table}.csv"


def observe_csv(path: Path) -> dg.ObserveResult:
    """What an observation of a CSV records: a hash of its content as the data version, so the
    version changes when, and only when, the content does, with the file's path and size."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
            size = f.tell()
    except FileNotFoundError:
        raise dg.Failure(
            description=f"{path.name} not found: expected it at {path}",
            metadata={"dagster/uri": str(path)},
        ) from None
    except OSError as error:  # a folder in its place, no permission to read it, ...
        raise dg.Failure(
            description=f"{path.name} could not be read at {path}: {error.strerror}",
            metadata={"dagster/uri": str(path)},
        ) from None
    return dg.ObserveResult(
        data_version=dg.DataVersion(digest.hexdigest()),
        metadata={"dagster/uri": str(path), "size_bytes": size},
    )


# A write lands in the same modification time as one just before it if the file system's
# clock has not moved on (it ticks every few milliseconds); two seconds covers coarse ones too.
RACY_SECONDS = 2


def observe_changed_csvs(
    context: dg.SensorEvaluationContext, csv_folder: CsvFolder, sources: Sequence[dg.SourceAsset]
) -> dg.SensorResult:
    """A tick of the observation sensor: records an observation of each source whose CSV has
    new content, without a run.

    A file is hashed again only when its size or modification time changed since the last
    tick (the cursor keeps both, with its data version), and observed only when the hash
    differs: an unchanged file records nothing, so nothing downstream is requested. A file
    modified within the last RACY_SECONDS could change again without its size or time
    changing, so it is hashed once more next tick. A file that cannot be read is named in the
    tick's log and skip reason, and is read again next tick; the others are observed as usual.
    """
    seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    observations, changed, unreadable = [], [], []
    for source in sources:
        name = source.key.to_user_string()
        path = csv_folder.csv_for(name.removesuffix("_csv"))
        try:
            stat = path.stat()
        except OSError:
            stat = None  # observe_csv says why
        signature = [stat.st_size, stat.st_mtime_ns] if stat else None
        last = seen.get(name)
        if signature and last and last[:2] == signature:
            continue
        try:
            observed = observe_csv(path)
        except dg.Failure as failure:
            unreadable.append(failure.description)
            continue
        version = observed.data_version.value
        if not last or last[2] != version:
            observations.append(
                dg.AssetObservation(
                    asset_key=source.key,
                    tags={"dagster/data_version": version},
                    metadata=observed.metadata,
                )
            )
            changed.append(path.name)
        if stat and time.time_ns() - stat.st_mtime_ns < RACY_SECONDS * 10**9:
            signature = None
        seen[name] = [*(signature or [None, None]), version]
    for line in unreadable:
        context.log.warning(line)
    # The tick's message in the UI: what it observed, and what it could not read.
    summary = [f"Observed new content in {', '.join(changed)}"] if changed else []
    return dg.SensorResult(
        asset_events=observations,
        cursor=json.dumps(seen),
        skip_reason="; ".join(summary + unreadable) or f"No CSV changed in {csv_folder.path}",
    )


# Money is read as text and must be written in whole cents: DuckDB would round `12.345` into
# decimal(18, 2) without a word. Sixteen digits at most before the point, so it always fits.
WHOLE_CENTS = r"[+-]?[0-9]{1,16}(\.[0-9]{0,2}0*)?"
NOT_WHOLE_CENTS = "amount is not in whole cents"


def key_of(table: str) -> str:
    """Each CSV's first column is its key: the value that names a row in messages."""
    return next(iter(CSV_COLUMNS[table]))


def load_csv(
    table: str, database: DuckDBResource, csv_folder: CsvFolder, audits: Sequence[Audit]
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """The body of each ingestion asset: `table` replaced from its CSV in `csv_folder`, only
    if every row loads and passes `audits`."""
    path = csv_folder.csv_for(table)
    _check_header(path, list(CSV_COLUMNS[table]))
    with connect(database) as conn:
        try:
            yield from publish(
                conn,
                table,
                select=read_csv_sql(table),
                params=[str(path)],
                audits=audits,
                key=key_of(table),
                # rowid is the order of the file, so examples come in the order a reader finds them.
                order_by="rowid",
                source=path.name,
            )
        except duckdb.Error as error:
            if NOT_WHOLE_CENTS in str(error):
                raise _not_whole_cents(conn, table, path) from None
            raise dg.Failure(
                description=f"{path.name} could not be loaded into {table}: {_first_lines(error)}",
                metadata={"file": str(path), "duckdb_error": str(error)},
            ) from error


def read_csv_sql(table: str, *, money: str = "exact") -> str:
    """`select` from `read_csv(?)` with the table's explicit column types.

    Money columns are read as text and refused unless they are whole cents (`exact`), read as
    decimal(18, 2) directly as plain DuckDB would (`decimal`, the benchmark's floor), or left
    as text (`text`, to find the amounts that were refused). Column names and types are this
    module's own constants; the path is the one parameter.
    """
    columns = CSV_COLUMNS[table]
    as_read = {
        name: "varchar" if money != "decimal" and sql_type == MONEY else sql_type
        for name, sql_type in columns.items()
    }
    column_types = ", ".join(f"'{name}': '{sql_type}'" for name, sql_type in as_read.items())
    selected = ", ".join(
        f"if({name} is null or regexp_full_match({name}, '{WHOLE_CENTS}'), "
        f"{name}::{MONEY}, error('{NOT_WHOLE_CENTS}')) as {name}"
        if money == "exact" and as_read[name] != sql_type
        else name
        for name, sql_type in columns.items()
    )
    return (
        f"select {selected} from read_csv(?, header = true, auto_detect = false, "  # noqa: S608
        f"columns = {{{column_types}}})"
    )


def _not_whole_cents(conn: duckdb.DuckDBPyConnection, table: str, path: Path) -> dg.Failure:
    """Says which money column holds amounts that are not whole cents, and in which rows."""
    key = key_of(table)
    problems = {}
    text = read_csv_sql(table, money="text")
    for column in (name for name, sql_type in CSV_COLUMNS[table].items() if sql_type == MONEY):
        offending = f"from ({text}) where not regexp_full_match({column}, '{WHOLE_CENTS}')"  # noqa: S608
        (count,) = conn.execute(f"select count(*) {offending}", [str(path)]).fetchone()
        first = conn.execute(
            f"select {key}, {column} {offending} limit {EXAMPLES}", [str(path)]
        ).fetchall()
        if count:
            problems[column] = (count, first)
    described = "; ".join(
        f"column {column}: {count} amount(s) such as "
        + ", ".join(f"{value!r} ({key} {row_key})" for row_key, value in first)
        for column, (count, first) in problems.items()
    )
    return dg.Failure(
        description=(
            f"{path.name} could not be loaded into {table}: {described}. Amounts must be whole "
            "cents (at most two decimals): they are refused, never rounded."
        ),
        metadata={"file": str(path), "columns": list(problems)},
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
