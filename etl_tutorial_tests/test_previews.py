"""The previews a learner looks at first: one table row per database row, whatever the values
hold, read back with a markdown parser as the UI would render them."""

from decimal import Decimal

import duckdb

from etl_tutorial.metadata import PREVIEW_ROWS, table_metadata
from etl_tutorial_tests.helpers import markdown_table

# (name as stored, name as the preview shows it), (amount as stored, amount as shown)
AWKWARD = [
    (("Pipe | inside", "Pipe | inside"), (Decimal("1234567.50"), "1,234,567.50")),
    (("Escaped \\| pipe, last \\", "Escaped \\| pipe, last \\"), (Decimal("-0.05"), "-0.05")),
    (("Line one\nline two\r\nthree", "Line one ↵ line two ↵ three"), (Decimal("0"), "0.00")),
    (
        ("*not bold* _nor this_ `nor code` <b>no html</b> &amp;", None),
        (Decimal("9999999999999999.99"), "9,999,999,999,999,999.99"),
    ),
    (("[not a link](x) ~~nor struck~~", None), (None, "")),
    (("x" * 200, "x" * 59 + "…"), (Decimal("1000"), "1,000.00")),
]


def test_a_preview_shows_every_value_as_itself_in_one_row_per_database_row(tmp_path):
    with duckdb.connect(str(tmp_path / "preview.duckdb")) as conn:
        conn.execute("create table awkward (id bigint, name varchar, amount decimal(18, 2))")
        conn.executemany(
            "insert into awkward values (?, ?, ?)",
            [[index, name, amount] for index, ((name, _), (amount, _)) in enumerate(AWKWARD)],
        )

        metadata = table_metadata(conn, "awkward", order_by="id")

    preview = markdown_table(metadata["preview"].value)
    assert metadata["dagster/row_count"] == len(AWKWARD)
    assert preview.headers == ["id", "name", "amount"]
    assert preview.rows == [
        [str(index), shown if shown is not None else name, amount_shown]
        for index, ((name, shown), (_, amount_shown)) in enumerate(AWKWARD)
    ]
    assert preview.right_aligned == {"id", "amount"}


def test_a_preview_of_a_long_table_shows_its_first_rows_by_key(tmp_path):
    with duckdb.connect(str(tmp_path / "preview.duckdb")) as conn:
        conn.execute("create table numbers as select range as id from range(100000)")

        metadata = table_metadata(conn, "numbers", order_by="id desc")

    assert metadata["dagster/row_count"] == 100_000
    assert markdown_table(metadata["preview"].value).column("id") == [
        str(n) for n in range(99_999, 99_999 - PREVIEW_ROWS, -1)
    ]
