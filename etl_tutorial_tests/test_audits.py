"""The uniqueness audit counts repeated keys the same way whichever count suits the keys: a
bitmap for whole numbers close together, grouping for anything else."""

from collections import Counter

import duckdb
import pytest

from etl_tutorial import audits

SPAN = audits.BITMAP_SPAN

# Keys, and whether they are close enough together for the bitmap.
KEYS = {
    "order ids 1, 2, 3, ... with repeats and gaps": ([1, 2, 3, 3, 5, None, None, 8, 8, 8], True),
    "negative and zero": ([-5, -5, 0, 3, 0], True),
    "no repeats": (list(range(1000, 3000)), True),
    "one key": ([42, 42], True),
    "the widest span a bitmap takes": ([0, SPAN - 1, SPAN - 1], True),
    "one wider": ([0, SPAN, SPAN], False),
    "far apart": ([1, 10**12, 10**12, 7, None, 7, -(10**15)], False),
    "text": (["P1", "P2", "P2", None, "p2", "P10", "P10", "P10"], False),
    "nothing but nulls": ([None, None], False),
}


def _table(conn: duckdb.DuckDBPyConnection, keys: list) -> None:
    column_type = "varchar" if any(isinstance(key, str) for key in keys) else "bigint"
    # One statement for every key, in order: unnest keeps the list's order and its nulls.
    conn.execute(f"create table sales as select unnest(?::{column_type}[]) as k", [keys])


@pytest.mark.parametrize("keys, close", KEYS.values(), ids=KEYS.keys())
def test_repeated_keys_are_counted_exactly_with_either_count(keys, close):
    non_null = Counter(key for key in keys if key is not None)
    repeated = sum(count - 1 for count in non_null.values())
    first_repeated = sorted(key for key, count in non_null.items() if count > 1)[:5]
    audit = audits.unique("k", source="sales.csv")

    with duckdb.connect() as conn:
        _table(conn, keys)
        (result,) = audits.run_audits(
            conn, "sales", [audit], asset="sales", key="k", order_by="rowid"
        )
        count, _ = audits._count(conn, "sales", audit)

    assert ("bitstring_agg" in count) == close
    assert result.passed == (repeated == 0)
    assert result.metadata["repeated_ks"].value == repeated
    assert result.metadata["example_ks"].value == first_repeated
