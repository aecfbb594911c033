"""Blocking audits of a table's new rows, declared one line each the way dbt declares
`not_null`, `unique` and `accepted_values` tests, and run before the rows are published.

An audit counts offending rows (or keys) with one aggregate expression, so all audits of a
table share one scan. Only when something offends are the first few keys looked up.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import dagster as dg
import duckdb

EXAMPLES = 5


@dataclass(frozen=True)
class Audit:
    """One blocking check on a table's rows, named `name` in the UI.

    `count` is an aggregate expression over the table (or a subquery of `{table}`);
    `offending` is a row predicate, or `examples` a whole query (with `{table}` and `{key}` in
    it) for audits that are not about single rows. Both are SQL written in this package;
    values travel in `params`, by name, or are returned by `params` when it is a function:
    asked each time the audit runs, for values that move with the clock. `count_for`, if
    given, looks at the table before the scan and may return a faster `count` that suits its
    data, with that count's `params`.
    """

    name: str
    description: str
    counted: str  # what `count` counts, the metadata key that shows it
    count: str
    offending: str | None = None
    examples: str | None = None
    params: Mapping[str, object] | Callable[[], Mapping[str, object]] = field(default_factory=dict)
    count_for: Callable[[duckdb.DuckDBPyConnection, str], tuple[str, dict] | None] | None = None

    def values(self) -> Mapping[str, object]:
        """The values of the audit's parameters for this run."""
        return self.params() if callable(self.params) else self.params

    def spec(self, asset: str) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            self.name, asset=asset, description=self.description, blocking=True
        )


def not_null(*columns: str, source: str) -> list[Audit]:
    """One audit per column: every row of `source` has a value there."""
    return [
        Audit(
            name=f"{column}_not_null",
            description=f"Every row of {source} has a {column}.",
            counted=f"rows_without_{column}",
            # count(column) skips nulls; DuckDB answers it from the column's statistics when
            # they show none, without a scan.
            count=f"count(*) - count({column})",
            offending=f"{column} is null",
        )
        for column in columns
    ]


def unique(column: str, source: str) -> Audit:
    """No two rows of `source` share a value of `column`."""
    return Audit(
        name=f"{column}_is_unique",
        description=f"No two rows of {source} share a {column}.",
        counted=f"repeated_{column}s",
        # Rows beyond the first of each key, by a grouped count, which can spill to disk past
        # DuckDB's memory_limit where count(distinct) in a whole-table aggregate cannot.
        count=(
            "(select coalesce(sum(rows - 1), 0) from (select count(*) as rows from {table} "  # noqa: S608
            f"where {column} is not null group by {column} having count(*) > 1))"
        ),
        examples=_repeated(column),
        count_for=partial(_count_in_a_bitmap, column),
    )


# A bitmap of this many bits (32 MiB) covers whole-number keys up to this far apart.
BITMAP_SPAN = 1 << 28


def _count_in_a_bitmap(
    column: str, conn: duckdb.DuckDBPyConnection, table: str
) -> tuple[str, dict] | None:
    """Whole-number keys that lie close together (order ids 1, 2, 3, ...) are counted with one
    bit per possible key, DuckDB's `bitstring_agg`, in a fixed bitmap, much faster than grouping
    them, with nothing to spill. Other keys (text, or numbers far apart) are grouped."""
    low, high = conn.execute(f"select min({column}), max({column}) from {table}").fetchone()  # noqa: S608
    if not isinstance(low, int) or high - low >= BITMAP_SPAN:
        return None
    return (
        f"count({column}) - bit_count(bitstring_agg({column}, ${column}_low, ${column}_high))",
        {f"{column}_low": low, f"{column}_high": high},
    )


def accepted_values(column: str, values: Sequence[str], source: str, name: str) -> Audit:
    """Every `column` of `source` is one of `values`."""
    return Audit(
        name=name,
        description=f"Every {column} in {source} is one of: {', '.join(values)}.",
        counted=f"rows_with_another_{column}",
        count=f"count(*) filter (where not list_contains(${column}_values, {column}))",
        offending=f"not list_contains(${column}_values, {column})",
        params={f"{column}_values": list(values)},
    )


def one_row_per(key: str, source: str, name: str) -> Audit:
    """The table has exactly one row per row of `source`: a join to a dimension with a
    repeated key would repeat the row, and double-count its money."""
    return Audit(
        name=name,
        description=f"Exactly one row per row of {source}: the join repeated or dropped nothing.",
        counted="extra_rows",
        count=f"count(*) - (select count(*) from {source})",  # noqa: S608
        examples=_repeated(key),
    )


def row_rule(
    name: str,
    description: str,
    counted: str,
    offending: str,
    params: Mapping[str, object] | Callable[[], Mapping[str, object]] | None = None,
) -> Audit:
    """Rows for which `offending` holds are errors."""
    return Audit(
        name=name,
        description=description,
        counted=counted,
        count=f"count(*) filter (where {offending})",
        offending=offending,
        params=params or {},
    )


def _repeated(column: str) -> str:
    """The first values of `column` that more than one row of `{table}` has."""
    return (
        f"select {column} from {{table}} where {column} is not null "  # noqa: S608
        f"group by {column} having count(*) > 1 order by {column} limit {EXAMPLES}"
    )


def specs(asset: str, audits: Sequence[Audit]) -> list[dg.AssetCheckSpec]:
    """The check specs an asset declares for its audits, so they show on its Checks tab."""
    return [audit.spec(asset) for audit in audits]


def run_audits(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    audits: Sequence[Audit],
    *,
    asset: str,
    key: str,
    order_by: str,
) -> list[dg.AssetCheckResult]:
    """Runs every audit on `table` in one scan; each failure lists the first offending `key`s
    (or "row N" where the key itself is missing), in `order_by` order."""
    found = dict(_shared_scan(conn, table, audits))
    return [
        dg.AssetCheckResult(
            asset_key=asset,
            check_name=audit.name,
            passed=count == 0,
            metadata={
                audit.counted: count,
                f"example_{key}s": dg.MetadataValue.json(
                    _examples(conn, table, audit, key, order_by) if count else []
                ),
            },
        )
        for audit, count in ((audit, found[audit.name]) for audit in audits)
    ]


def _shared_scan(conn: duckdb.DuckDBPyConnection, table: str, audits: Sequence[Audit]):
    """(name, count) of each audit, all counted in one scan of `table`."""
    if not audits:
        return iter(())
    counts = [_count(conn, table, audit) for audit in audits]
    selected = ", ".join(count for count, _ in counts)
    params = {name: value for _, audit_params in counts for name, value in audit_params.items()}
    found = conn.execute(f"select {selected} from {table}", params or None).fetchone()  # noqa: S608
    return zip((audit.name for audit in audits), found, strict=True)


def _count(conn: duckdb.DuckDBPyConnection, table: str, audit: Audit) -> tuple[str, dict]:
    """The expression that counts what `audit` finds in `table`, and its parameters."""
    fitted = audit.count_for(conn, table) if audit.count_for else None
    return fitted or (audit.count.format(table=table), audit.values())


def _examples(
    conn: duckdb.DuckDBPyConnection, table: str, audit: Audit, key: str, order_by: str
) -> list:
    if audit.examples is not None:
        sql = audit.examples.format(table=table, key=key)
        return [value for (value,) in conn.execute(sql, audit.values() or None).fetchall()]
    rows = conn.execute(
        f"select {key}, rowid from {table} where {audit.offending} "  # noqa: S608
        f"order by {order_by} limit {EXAMPLES}",
        audit.values() or None,
    ).fetchall()
    return [value if value is not None else f"row {rowid + 1}" for value, rowid in rows]


def describe_failures(failed: Sequence[dg.AssetCheckResult], key: str) -> str:
    """One line per failed audit: its name, how many offend, and the first of them."""
    lines = []
    for result in failed:
        metadata = {name: value.value for name, value in result.metadata.items()}
        examples = ", ".join(str(example) for example in metadata.pop(f"example_{key}s"))
        ((counted, count),) = metadata.items()
        lines.append(
            f"- {result.check_name}: {counted.replace('_', ' ')}: {count}; first {key}: {examples}"
        )
    return "\n".join(lines)
