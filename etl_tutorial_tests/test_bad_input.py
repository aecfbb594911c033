"""Whatever arrives in the CSVs: a clear failure naming the file and problem, or a failed
blocking check with counts and example keys, and never the loss of the last good tables.

One case per rule that makes every sale count in exactly one month and one category. Each
case starts from the tables published from the sample CSVs and is refused where it happens
(the load of its table, or the join), without a Dagster run; a few run the pipeline end to end
to show that nothing built from a refused table is published."""

import filecmp
import functools
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from etl_tutorial import sample_data
from etl_tutorial.csv_files import CSV_COLUMNS, load_csv
from etl_tutorial.definitions import (
    PRODUCT_CHECKS,
    SALES_CHECKS,
    SALES_REP_CHECKS,
    joined_data,
)
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    PARTITIONED,
    UNPARTITIONED,
    check_evaluation,
    materialized,
    opened,
    project_resources,
    rewrite_csv,
    snapshot,
    step_failure,
)


def _edit(file: str, edit):
    """A mutation of one CSV: `edit(rows)` changes the parsed rows (header first) in place."""

    def mutate(csv_dir: Path) -> None:
        rewrite_csv(csv_dir / file, edit)

    return mutate


# The first day of the month after this one, in UTC (the partitions' time zone).
_TODAY = datetime.now(timezone.utc).date()
_NEXT_MONTH = date(_TODAY.year + _TODAY.month // 12, _TODAY.month % 12 + 1, 1)


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
    """The CSV is refused while loading, with a message containing every fragment."""

    fragments: list[str]


@dataclass
class CheckFails:
    """The CSV loads, but blocking check `check` of `asset` fails: `counted` is `count`, and the
    first offending keys are `examples`."""

    asset: str
    check: str
    counted: str
    count: int
    examples: list


# The last column of each file, to drop in the "missing column" case.
LAST_COLUMN = {table: list(columns)[-1] for table, columns in CSV_COLUMNS.items()}
KEYS = {table: list(columns)[0] for table, columns in CSV_COLUMNS.items()} | {
    "joined_data": "order_id"
}
SOURCES = {table: f"{table}.csv" for table in CSV_COLUMNS} | {"joined_data": "sales_data joined"}

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
            Fails([file, "has no rows", f"{table} is unchanged"]),
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
    # Money is whole cents or refused: never rounded, never truncated.
    "text in price": (
        _edit("products.csv", _set(2, "price", "12,50 EUR")),
        Fails(["products.csv", "column price: 1 amount(s)", "'12,50 EUR' (product_id P002)"]),
    ),
    "amount with a fraction of a cent": (
        _edit("sales_data.csv", _set(40, "dollar_amount", "12.345")),
        Fails(
            ["sales_data.csv", "column dollar_amount", "'12.345' (order_id 40)", "never rounded"]
        ),
    ),
    "price with a fraction of a cent": (
        _edit("products.csv", _set(3, "price", "9.999")),
        Fails(["products.csv", "column price", "'9.999' (product_id P003)"]),
    ),
    "amount too large for decimal(18, 2)": (
        _edit("sales_data.csv", _set(41, "dollar_amount", "12345678901234567.00")),
        Fails(["sales_data.csv", "column dollar_amount", "'12345678901234567.00' (order_id 41)"]),
    ),
    # No NULL in any key, date, quantity or money column.
    "sale without an order_id": (
        _edit("sales_data.csv", _set(5, "order_id", "")),
        CheckFails("sales_data", "order_id_not_null", "rows_without_order_id", 1, ["row 5"]),
    ),
    "sale without a date": (
        _edit("sales_data.csv", _set(6, "date", "")),
        CheckFails("sales_data", "date_not_null", "rows_without_date", 1, [6]),
    ),
    "sale without a product_id": (
        _edit("sales_data.csv", _set(7, "product_id", "")),
        CheckFails("sales_data", "product_id_not_null", "rows_without_product_id", 1, [7]),
    ),
    "sale without a rep_id": (
        _edit("sales_data.csv", _set(10, "rep_id", "")),
        CheckFails("sales_data", "rep_id_not_null", "rows_without_rep_id", 1, [10]),
    ),
    "sale without a quantity": (
        _edit("sales_data.csv", _set(11, "quantity", "")),
        CheckFails("sales_data", "quantity_not_null", "rows_without_quantity", 1, [11]),
    ),
    "sale without a dollar_amount": (
        _edit("sales_data.csv", _set(12, "dollar_amount", "")),
        CheckFails("sales_data", "dollar_amount_not_null", "rows_without_dollar_amount", 1, [12]),
    ),
    "product without a product_id": (
        _edit("products.csv", _set(4, "product_id", "")),
        CheckFails("products", "product_id_not_null", "rows_without_product_id", 1, ["row 4"]),
    ),
    "product without a category": (
        _edit("products.csv", _set(5, "category", "")),
        CheckFails("products", "category_not_null", "rows_without_category", 1, ["P005"]),
    ),
    "product without a price": (
        _edit("products.csv", _set(6, "price", "")),
        CheckFails("products", "price_not_null", "rows_without_price", 1, ["P006"]),
    ),
    "rep without a rep_id": (
        _edit("sales_reps.csv", _set(2, "rep_id", "")),
        CheckFails("sales_reps", "rep_id_not_null", "rows_without_rep_id", 1, ["row 2"]),
    ),
    "rep without a hire_date": (
        _edit("sales_reps.csv", _set(3, "hire_date", "")),
        CheckFails("sales_reps", "hire_date_not_null", "rows_without_hire_date", 1, ["R03"]),
    ),
    # Every product in one of product_category_partition's categories.
    "product in a category that is not a partition": (
        _edit("products.csv", _set(3, "category", "Toys")),
        CheckFails(
            "products", "category_is_a_partition", "rows_with_another_category", 1, ["P003"]
        ),
    ),
    "category spelled in lower case": (
        _edit("products.csv", _set(9, "category", "books")),
        CheckFails(
            "products", "category_is_a_partition", "rows_with_another_category", 1, ["P009"]
        ),
    ),
    # Every sale in one of monthly_partition's months, or in the current one.
    "sale dated before the first month": (
        _edit("sales_data.csv", _set(8, "date", "2023-12-31")),
        CheckFails(
            "sales_data", "date_is_in_a_partition", "sales_dated_outside_the_months", 1, [8]
        ),
    ),
    "sale dated in the future": (
        _edit("sales_data.csv", _set(9, "date", "2099-01-01")),
        CheckFails(
            "sales_data", "date_is_in_a_partition", "sales_dated_outside_the_months", 1, [9]
        ),
    ),
    # The month in progress is a partition (month to date); the next one is not yet.
    "sale dated next month": (
        _edit("sales_data.csv", _set(10, "date", f"{_NEXT_MONTH:%Y-%m-%d}")),
        CheckFails(
            "sales_data", "date_is_in_a_partition", "sales_dated_outside_the_months", 1, [10]
        ),
    ),
    # Every key once.
    "duplicate order_id": (
        _edit("sales_data.csv", _duplicate_row(7)),
        CheckFails("sales_data", "order_id_is_unique", "repeated_order_ids", 1, [7]),
    ),
    "duplicate product_id": (
        _edit("products.csv", _duplicate_row(2)),
        CheckFails("products", "product_id_is_unique", "repeated_product_ids", 1, ["P002"]),
    ),
    "duplicate rep_id": (
        _edit("sales_reps.csv", _duplicate_row(5)),
        CheckFails("sales_reps", "rep_id_is_unique", "repeated_rep_ids", 1, ["R05"]),
    ),
    "sale of an unknown rep": (
        _edit("sales_data.csv", _set(10, "rep_id", "R99")),
        CheckFails(
            "joined_data", "missing_dimension_check", "rows_missing_rep_or_product", 1, [10]
        ),
    ),
    "sale of an unknown product": (
        _edit("sales_data.csv", _set(20, "product_id", "P999")),
        CheckFails(
            "joined_data", "missing_dimension_check", "rows_missing_rep_or_product", 1, [20]
        ),
    ),
    "negative quantity": (
        _edit("sales_data.csv", _set(30, "quantity", "-2")),
        CheckFails(
            "sales_data", "no_negative_sales", "sales_with_negative_quantity_or_amount", 1, [30]
        ),
    ),
    "negative amount": (
        _edit("sales_data.csv", _set(40, "dollar_amount", "-10.00")),
        CheckFails(
            "sales_data", "no_negative_sales", "sales_with_negative_quantity_or_amount", 1, [40]
        ),
    ),
}


def _changed_files(csv_dir: Path, sample_csvs: Path) -> list[str]:
    """The tables whose CSV a case changed (or removed) from the unchanged `sample_csvs`."""
    return [
        table
        for table in CSV_COLUMNS
        if not (csv_dir / f"{table}.csv").exists()
        or not filecmp.cmp(csv_dir / f"{table}.csv", sample_csvs / f"{table}.csv", shallow=False)
    ]


# Each case refused where it happens: the load of its table, or the join, without a run.
INGESTION_CHECKS = {
    "products": PRODUCT_CHECKS,
    "sales_reps": SALES_REP_CHECKS,
    "sales_data": SALES_CHECKS,
}

# Refused while loading, by a check of the table loaded, or by a check of the join.
LOAD_FAILS = {name: case for name, case in CASES.items() if isinstance(case[1], Fails)}
ROW_FAILS = {
    name: case
    for name, case in CASES.items()
    if isinstance(case[1], CheckFails) and case[1].asset in INGESTION_CHECKS
}
JOIN_FAILS = {
    name: case
    for name, case in CASES.items()
    if isinstance(case[1], CheckFails) and case[1].asset == "joined_data"
}


def _load(table: str, database: Path, csv_dir: Path):
    """What the ingestion asset of `table` runs (not yet run: iterate it)."""
    found = project_resources(database, csv_dir)
    return load_csv(table, found["duckdb"], found["csv_folder"], INGESTION_CHECKS[table])


def _join(database: Path, csv_dir: Path):
    """The body of the joined_data asset, the function definitions.py declares, called with
    the test's database and without a Dagster run (not yet run: iterate it)."""
    body = joined_data.op.compute_fn.decorated_fn
    return body(duckdb=project_resources(database, csv_dir)["duckdb"])


def _refusal(run) -> tuple[list, dg.Failure]:
    """Runs an asset body that must refuse its new rows: what it yielded, and its Failure."""
    yielded = []
    with pytest.raises(dg.Failure) as refusal:
        for result in run:
            yielded.append(result)
    return yielded, refusal.value


def _table_of(outcome: Fails) -> str:
    """The table whose file a load failure names first."""
    (table,) = [t for t in CSV_COLUMNS if f"{t}.csv" == outcome.fragments[0]]
    return table


@functools.cache
def _last_good(sample_csvs: Path, table: str) -> list[tuple]:
    """The rows of `table` built from the unchanged CSVs, sorted: computed with pandas, once."""
    if table == "joined_data":
        return sorted(expected.rows(expected.joined_data(sample_csvs)))
    return sorted(expected.rows(expected.read_csv(sample_csvs, table)))


def _tables_and_rows(database: Path, table: str) -> tuple[list[str], list[tuple]]:
    """The names of the database's tables, and the rows of `table`, sorted."""
    with opened(database) as conn:
        tables = conn.execute(
            "select table_name from duckdb_tables() "
            "where database_name = current_database() order by all"
        ).fetchall()
        rows = conn.execute(f"select * from {table} order by all").fetchall()  # noqa: S608
    return [name for (name,) in tables], rows


def _assert_keeps_its_last_good_rows(database: Path, table: str, last_good: list[tuple]) -> None:
    """`table` holds exactly its `last_good` rows, and no staged rows were left behind."""
    tables, rows = _tables_and_rows(database, table)
    assert not [name for name in tables if name.endswith("__staged")]
    assert rows == last_good


def _assert_check_failed(check, message: str, outcome: CheckFails) -> None:
    """`check` (a check's result or its recorded evaluation) failed with the case's count and
    first keys, and `message` names the file, the rule (and so the column) and the first key."""
    assert not check.passed
    key = KEYS[outcome.asset]
    assert {name: value.value for name, value in check.metadata.items()} == {
        outcome.counted: outcome.count,
        f"example_{key}s": outcome.examples,
    }
    assert SOURCES[outcome.asset] in message
    assert f"{outcome.check}: " in message
    assert f"first {key}: {outcome.examples[0]}" in message


@pytest.mark.parametrize("mutate, outcome", LOAD_FAILS.values(), ids=LOAD_FAILS.keys())
def test_a_file_that_cannot_load_is_refused_naming_it_and_its_table_keeps_its_last_good_rows(
    mutate, outcome, published, sample_csvs, csv_dir, database
):
    table = _table_of(outcome)
    mutate(csv_dir)
    assert _changed_files(csv_dir, sample_csvs) == [table]

    yielded, failure = _refusal(_load(table, database, csv_dir))

    assert yielded == []
    for fragment in outcome.fragments:
        assert fragment in failure.description
    _assert_keeps_its_last_good_rows(database, table, _last_good(sample_csvs, table))


@pytest.mark.parametrize("mutate, outcome", ROW_FAILS.values(), ids=ROW_FAILS.keys())
def test_a_row_breaking_a_rule_fails_its_check_with_count_and_keys_and_keeps_the_last_good_rows(
    mutate, outcome, published, sample_csvs, csv_dir, database
):
    table = outcome.asset
    mutate(csv_dir)
    assert _changed_files(csv_dir, sample_csvs) == [table]

    results, failure = _refusal(_load(table, database, csv_dir))

    (check,) = [result for result in results if result.check_name == outcome.check]
    assert check.asset_key == dg.AssetKey(table)
    _assert_check_failed(check, failure.description, outcome)
    _assert_keeps_its_last_good_rows(database, table, _last_good(sample_csvs, table))


@pytest.mark.parametrize("mutate, outcome", JOIN_FAILS.values(), ids=JOIN_FAILS.keys())
def test_a_sale_the_join_cannot_match_fails_its_check_and_joined_data_keeps_its_last_good_rows(
    mutate, outcome, published, sample_csvs, csv_dir, database
):
    mutate(csv_dir)
    assert _changed_files(csv_dir, sample_csvs) == ["sales_data"]

    # The sale itself passes sales_data's checks: only the join can tell it matches nothing.
    list(_load("sales_data", database, csv_dir))
    results, failure = _refusal(_join(database, csv_dir))

    _, accepted = _tables_and_rows(database, "sales_data")
    assert accepted == sorted(expected.rows(expected.read_csv(csv_dir, "sales_data")))
    (check,) = [result for result in results if result.check_name == outcome.check]
    assert check.asset_key == dg.AssetKey("joined_data")
    _assert_check_failed(check, failure.description, outcome)
    last_good = _last_good(sample_csvs, "joined_data")
    _assert_keeps_its_last_good_rows(database, "joined_data", last_good)


# End to end: a run that refuses a table publishes nothing built from it.

# The asset each refused file would have become, and what is built from it.
DOWNSTREAM = {
    "products": {"products", "joined_data", *PARTITIONED},
    "sales_reps": {"sales_reps", "joined_data", *PARTITIONED},
    "sales_data": {"sales_data", "joined_data", *PARTITIONED},
    "joined_data": {"joined_data", *PARTITIONED},
}

# One refusal of each kind: a file that cannot load, a row a table's check refuses, and a sale
# the join refuses.
REFUSED_IN_A_RUN = ["text in quantity", "sale without a date", "sale of an unknown rep"]


def _refused(mutate, csv_dir: Path, sample_csvs: Path, materialize):
    """Applies a case's change, then re-runs what a user would after editing those files: the
    changed files' ingestion assets, the join and one category partition built from it (the
    other tables stay as published). The run must fail."""
    mutate(csv_dir)
    changed = _changed_files(csv_dir, sample_csvs)
    assert changed
    result = materialize(
        [*changed, "joined_data", "product_performance"],
        partition_key="Books",
        raise_on_error=False,
    )
    assert not result.success
    return result


@pytest.mark.parametrize("name", REFUSED_IN_A_RUN)
def test_a_run_refusing_a_file_or_a_row_publishes_nothing_built_from_it(
    name, published, changed_since_published, sample_csvs, csv_dir, materialize, database
):
    mutate, outcome = CASES[name]

    result = _refused(mutate, csv_dir, sample_csvs, materialize)

    message = step_failure(result)
    if isinstance(outcome, Fails):
        for fragment in outcome.fragments:
            assert fragment in message
        refused = DOWNSTREAM[_table_of(outcome)]
    else:
        _assert_check_failed(
            check_evaluation(result, outcome.asset, outcome.check), message, outcome
        )
        refused = DOWNSTREAM[outcome.asset]
    _assert_nothing_refused_was_published(
        result, refused, changed_since_published, database, csv_dir, sample_csvs
    )


def _assert_nothing_refused_was_published(
    result, refused, changed_since_published, database, csv_dir, sample_csvs
):
    """No materialization of a refused table or of anything built from it, and those tables
    keep their last good rows (an analysis table the run selected included). A changed file
    that passed its own checks was published (a sale naming an unknown rep is refused by the
    join, not by sales_data); every other table is as it was."""
    assert not materialized(result) & refused
    accepted = [table for table in _changed_files(csv_dir, sample_csvs) if table not in refused]
    assert changed_since_published() == accepted
    for table in accepted:
        assert snapshot(database)[table] == sorted(expected.rows(expected.read_csv(csv_dir, table)))


def test_a_refused_join_stops_the_partitions_in_the_same_run(
    published, changed_since_published, sample_csvs, csv_dir, materialize, database
):
    _edit("sales_data.csv", _set(1, "rep_id", "R99"))(csv_dir)

    result = materialize(
        UNPARTITIONED + ["monthly_sales_performance"],
        partition_key="2024-01-01",
        raise_on_error=False,
    )

    assert not result.success
    assert materialized(result) == {"products", "sales_reps", "sales_data"}
    refused = DOWNSTREAM["joined_data"]
    _assert_nothing_refused_was_published(
        result, refused, changed_since_published, database, csv_dir, sample_csvs
    )


def test_join_check_catches_a_dimension_table_repeated_outside_the_pipeline(
    published, csv_dir, materialize, query
):
    # Another tool appends a product that is already there; the join would count its sales twice.
    query("insert into products select * from products where product_id = 'P002'")

    result = materialize(["joined_data"], raise_on_error=False)

    sales = expected.read_csv(csv_dir, "sales_data")
    sales_of_p002 = sorted(int(o) for o in sales.loc[sales["product_id"] == "P002", "order_id"])
    evaluation = check_evaluation(result, "joined_data", "one_joined_row_per_sale")
    assert not evaluation.passed
    assert evaluation.metadata["extra_rows"].value == len(sales_of_p002) > 0
    assert evaluation.metadata["example_order_ids"].value == sales_of_p002[:5]
    assert "joined_data" not in materialized(result)
    assert query("select * from joined_data order by all") == published["joined_data"]


@pytest.mark.parametrize(
    "change, params, wrong_order_ids",
    [
        # Another tool rewrites a date past every month, or a category that is no partition.
        ("update sales_data set date = '2099-01-01' where order_id in (5, 6)", [], [5, 6]),
        ("update sales_data set date = ? where order_id = 7", [_NEXT_MONTH], [7]),
        ("update sales_data set date = null where order_id = 8", [], [8]),
        ("update products set category = 'Toys' where product_id = 'P002'", [], None),
        ("update products set category = null where product_id = 'P002'", [], None),
    ],
    ids=[
        "date in no month",
        "date next month",
        "no date",
        "category in no partition",
        "no category",
    ],
)
def test_joined_data_refuses_a_sale_that_no_partition_would_count(
    change, params, wrong_order_ids, published, sample_csvs, database, query
):
    query(change, params)
    if wrong_order_ids is None:
        sales = expected.read_csv(sample_csvs, "sales_data")
        of_p002 = sales.loc[sales["product_id"] == "P002", "order_id"]
        wrong_order_ids = sorted(int(order_id) for order_id in of_p002)

    results, failure = _refusal(_join(database, sample_csvs))

    (check,) = [r for r in results if r.check_name == "counted_in_a_month_and_a_category"]
    assert not check.passed
    assert check.metadata["rows_in_no_partition"].value == len(wrong_order_ids) > 0
    assert check.metadata["example_order_ids"].value == wrong_order_ids[:5]
    assert "counted_in_a_month_and_a_category: rows in no partition" in failure.description
    assert query("select * from joined_data order by all") == published["joined_data"]


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
    assert names == list(expected.read_csv(csv_dir, "products")["product_name"])
    assert names[:4] == awkward
    products = expected.read_csv(csv_dir, "products")
    (product_id,) = products.loc[products["product_name"] == awkward[1], "product_id"]
    sales = expected.read_csv(csv_dir, "sales_data")
    sold = int((sales["product_id"] == product_id).sum())
    assert sold > 0
    assert query("select count(*) from joined_data where product_name = ?", [awkward[1]]) == [
        (sold,)
    ]


# Slow (about 8 s): only a file this large makes DuckDB load in parallel, out of file order.
@pytest.mark.slow
def test_a_large_file_names_its_offending_rows_by_their_place_in_the_file(tmp_path):
    """DuckDB loads a large file in parallel and, as configured, does not keep the file's
    order; examples of a failed check must still name rows where a reader finds them."""
    csv_dir = sample_data.generate(tmp_path / "csv", rows=1_000_000)
    with (csv_dir / "sales_data.csv").open(encoding="utf-8") as f:
        lines = f.readlines()
    # Data rows 400,001 and 900,001 lose their order_id, and row 950,001 its quantity.
    for row, column in [(400_001, 0), (900_001, 0), (950_001, 5)]:
        fields = lines[row].split(",")
        fields[column] = ""
        lines[row] = ",".join(fields)
    (csv_dir / "sales_data.csv").write_text("".join(lines), encoding="utf-8")
    quantity_missing = int(lines[950_001].split(",")[0])
    found = project_resources(tmp_path / "large.duckdb", csv_dir)

    with pytest.raises(dg.Failure) as failure:
        list(load_csv("sales_data", found["duckdb"], found["csv_folder"], SALES_CHECKS))

    assert (
        "order_id_not_null: rows without order id: 2; first order_id: row 400001, row 900001"
        in (failure.value.description)
    )
    assert f"quantity_not_null: rows without quantity: 1; first order_id: {quantity_missing}" in (
        failure.value.description
    )
