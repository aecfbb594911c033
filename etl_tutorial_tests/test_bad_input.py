"""Whatever arrives in the CSVs: a clear failure naming the file and problem, or a failed check
with counts and example keys, and never the loss of the last good tables."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from etl_tutorial.sources import CSV_COLUMNS
from etl_tutorial_tests import expected
from etl_tutorial_tests.conftest import UNPARTITIONED, rewrite_csv

TABLES = ["products", "sales_reps", "sales_data", "joined_data"]
INPUT_CHECKS = {"product_id_is_unique", "rep_id_is_unique", "no_negative_sales"}


def _edit(file: str, edit):
    """A mutation of one CSV: `edit(rows)` changes the parsed rows (header first) in place."""

    def mutate(csv_dir: Path) -> None:
        rewrite_csv(csv_dir / file, edit)

    return mutate


def _set(row: int, column: str, value: str):
    def edit(rows):
        rows[row][rows[0].index(column)] = value

    return edit


def _drop_column(column: str):
    def edit(rows):
        index = rows[0].index(column)
        for row in rows:
            del row[index]

    return edit


def _add_column(column: str):
    def edit(rows):
        rows[0].append(column)
        for row in rows[1:]:
            row.append("x")

    return edit


def _duplicate_row(row: int):
    def edit(rows):
        rows.append(list(rows[row]))

    return edit


def _keep_header_only(rows):
    del rows[1:]


def _append_latin1_sale(path: Path) -> None:
    sale = "4001,2024-12-31,P001,R01,Café Noir,1,260.98\n"
    path.write_bytes(path.read_bytes() + sale.encode("latin-1"))


def _raw(file: str, write):
    def mutate(csv_dir: Path) -> None:
        write(csv_dir / file)

    return mutate


@dataclass
class Fails:
    """The materialization fails with a message containing every fragment."""

    fragments: list[str]


@dataclass
class CheckFails:
    """The CSV loads, and `check` fails with `count` offenders, `examples` among them."""

    check: str
    count: int
    examples: list


# The last column of each file, to drop in the "missing column" case.
LAST_COLUMN = {table: list(columns)[-1] for table, columns in CSV_COLUMNS.items()}

CASES = {}
for table in CSV_COLUMNS:
    file = f"{table}.csv"
    CASES |= {
        f"{file} missing": (_raw(file, Path.unlink), Fails([file, "not found"])),
        f"{file} empty": (
            _raw(file, lambda p: p.write_text("")),
            Fails([file, "is empty", ",".join(CSV_COLUMNS[table])]),
        ),
        f"{file} header only": (
            _edit(file, _keep_header_only),
            Fails([file, "header but no rows", f"{table} is unchanged"]),
        ),
        f"{file} missing a column": (
            _edit(file, _drop_column(LAST_COLUMN[table])),
            Fails([file, f"missing column(s) {LAST_COLUMN[table]}"]),
        ),
        f"{file} with an extra column": (
            _edit(file, _add_column("region")),
            Fails([file, "unexpected column(s) region"]),
        ),
    }

CASES |= {
    "columns out of order": (
        _edit("products.csv", lambda rows: [row.reverse() for row in rows]),
        Fails(["products.csv", "out of order", "price,category,product_name,product_id"]),
    ),
    "text in quantity": (
        _edit("sales_data.csv", _set(3, "quantity", "three")),
        Fails(["sales_data.csv", "Line: 4", '"three"', "quantity"]),
    ),
    "impossible date": (
        _edit("sales_data.csv", _set(5, "date", "2024-02-30")),
        Fails(["sales_data.csv", "Line: 6", "2024-02-30", "date"]),
    ),
    "text in price": (
        _edit("products.csv", _set(2, "price", "12,50 EUR")),
        Fails(["products.csv", "Line: 3", "12,50 EUR", "price"]),
    ),
    "not UTF-8": (
        _raw(
            "sales_reps.csv",
            lambda p: p.write_bytes(p.read_text(encoding="utf-8").encode("latin-1")),
        ),
        Fails(["sales_reps.csv", "not UTF-8"]),
    ),
    "not UTF-8 after the first block": (
        _raw("sales_data.csv", _append_latin1_sale),
        Fails(["sales_data.csv", "Line: 4002", "not utf-8 encoded"]),
    ),
    "missing product_id": (
        _edit("products.csv", _set(4, "product_id", "")),
        CheckFails("product_id_is_unique", 1, ["NULL"]),
    ),
    "duplicate product_id": (
        _edit("products.csv", _duplicate_row(2)),
        CheckFails("product_id_is_unique", 1, ["P002"]),
    ),
    "duplicate rep_id": (
        _edit("sales_reps.csv", _duplicate_row(5)),
        CheckFails("rep_id_is_unique", 1, ["R05"]),
    ),
    "missing rep_id on a sale": (
        _edit("sales_data.csv", _set(10, "rep_id", "")),
        CheckFails("missing_dimension_check", 1, [10]),
    ),
    "sale of an unknown product": (
        _edit("sales_data.csv", _set(20, "product_id", "P999")),
        CheckFails("missing_dimension_check", 1, [20]),
    ),
    "negative quantity": (
        _edit("sales_data.csv", _set(30, "quantity", "-2")),
        CheckFails("no_negative_sales", 1, [30]),
    ),
    "negative amount": (
        _edit("sales_data.csv", _set(40, "dollar_amount", "-10.00")),
        CheckFails("no_negative_sales", 1, [40]),
    ),
}


def _snapshot(query) -> dict[str, list]:
    return {table: query(f"select * from {table} order by all") for table in TABLES}  # noqa: S608


@pytest.fixture
def good_tables(materialize, query):
    """The tables from a good materialization of the shipped CSVs, before any damage."""
    materialize(UNPARTITIONED)
    return _snapshot(query)


@pytest.mark.parametrize("mutate, outcome", CASES.values(), ids=CASES.keys())
def test_bad_input_fails_clearly_and_keeps_the_last_good_tables(
    mutate, outcome, good_tables, csv_dir, materialize, query
):
    mutate(csv_dir)

    result = materialize(UNPARTITIONED, raise_on_error=False)

    assert not result.success
    if isinstance(outcome, Fails):
        (failure,) = [e for e in result.all_events if e.is_step_failure]
        message = failure.step_failure_data.error.message
        user_message = failure.step_failure_data.user_failure_data
        text = f"{message} {user_message.description if user_message else ''}"
        for fragment in outcome.fragments:
            assert fragment in text
        # Nothing the failed run touched lost its previous good rows.
        assert _snapshot(query) == good_tables
    else:
        (evaluation,) = [
            e for e in result.get_asset_check_evaluations() if e.check_name == outcome.check
        ]
        assert not evaluation.passed
        metadata = {name: value.value for name, value in evaluation.metadata.items()}
        (count,) = [value for name, value in metadata.items() if not name.startswith("example")]
        (examples,) = [value for name, value in metadata.items() if name.startswith("example")]
        assert (count, examples) == (outcome.count, outcome.examples)
        if outcome.check in INPUT_CHECKS:
            # Blocking: the join is not rebuilt from a bad input in the same run.
            assert query("select * from joined_data order by all") == good_tables["joined_data"]


def test_a_failed_join_check_stops_the_partitions_in_the_same_run(csv_dir, materialize, query):
    materialize(UNPARTITIONED + ["monthly_sales_performance"], partition_key="2024-01-01")
    january = query("select * from monthly_sales_performance order by all")
    _edit("sales_data.csv", _set(1, "rep_id", "R99"))(csv_dir)

    result = materialize(
        UNPARTITIONED + ["monthly_sales_performance"],
        partition_key="2024-01-01",
        raise_on_error=False,
    )

    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "joined_data" in materialized
    assert "monthly_sales_performance" not in materialized
    assert query("select * from monthly_sales_performance order by all") == january


def test_fan_out_check_counts_sales_repeated_by_a_duplicated_product(csv_dir, materialize, query):
    _edit("products.csv", _duplicate_row(2))(csv_dir)
    materialize(["products", "sales_reps", "sales_data"], raise_on_error=False)

    result = materialize(["joined_data"], raise_on_error=False)

    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "one_joined_row_per_sale"
    ]
    sales_of_p002 = [
        int(row["order_id"])
        for row in expected.read_csv(csv_dir / "sales_data.csv")
        if row["product_id"] == "P002"
    ]
    assert not evaluation.passed
    assert evaluation.metadata["extra_joined_rows"].value == len(sales_of_p002) > 0
    assert evaluation.metadata["example_repeated_order_ids"].value == sales_of_p002[:5]


def test_quotes_commas_newlines_and_non_ascii_in_names_load_exactly(csv_dir, materialize, query):
    awkward = [
        'Quote "inside", and a comma',
        "Semicolon; 'apostrophe' -- and x'; drop table products; --",
        "Line\nbreak",
        "Ünïcödé ✓ 日本語 🎉",
    ]

    def rename(rows):
        for row, name in zip(rows[1:], awkward, strict=False):
            row[1] = name

    rewrite_csv(csv_dir / "products.csv", rename)

    materialize(UNPARTITIONED)

    names = [name for (name,) in query("select product_name from products order by product_id")]
    assert names == [row["product_name"] for row in expected.read_csv(csv_dir / "products.csv")]
    assert names[:4] == awkward
    assert query("select count(*) from joined_data where product_name = ?", [awkward[1]])
