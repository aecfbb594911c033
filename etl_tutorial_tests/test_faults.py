"""Hostile values, a process killed mid-write, and writers racing for the DuckDB file."""

import shutil
import signal
import subprocess
import sys
import textwrap
from collections import defaultdict
from datetime import date
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from etl_tutorial import queries
from etl_tutorial.csv_files import load_csv
from etl_tutorial.definitions import PRODUCT_CHECKS
from etl_tutorial.metadata import table_metadata
from etl_tutorial.publishing import rewrite_partitions
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    kill_once_writing,
    project_resources,
    rewrite_csv,
    snapshot,
    write_two_million_sales,
)

HOSTILE = "x'; drop table sales_data; --"


@pytest.mark.parametrize(
    "partition, refusal, message",
    [
        ({"partition_key": HOSTILE}, dg.DagsterUnknownPartitionError, "Could not find a partition"),
        ({"partition_range": (HOSTILE, "2024-03-01")}, ValueError, "does not match format"),
        ({"partition_range": ("2024-01-01", HOSTILE)}, ValueError, "does not match format"),
    ],
    ids=["key", "range start", "range end"],
)
def test_partition_definitions_reject_hostile_keys(
    partition, refusal, message, published, changed_since_published, materialize
):
    # Unknown keys are refused before any asset code runs; a range's ends must parse as dates.
    with pytest.raises(refusal, match=message):
        materialize(["monthly_sales_performance"], **partition)
    assert changed_since_published() == []


def test_sql_layer_binds_hostile_values_without_relying_on_the_partition_definitions(
    published, changed_since_published, database
):
    """The helpers the assets call, handed hostile values directly."""
    with duckdb.connect(str(database)) as conn:
        events = list(
            rewrite_partitions(
                conn,
                queries.PRODUCT_PERFORMANCE,
                keys=[HOSTILE],
                params={"categories": [HOSTILE]},
            )
        )
        assert events[-1].metadata["dagster/partition_row_count"] == 0
        # A month bound as text where a date belongs fails in the transaction, deleting nothing.
        with pytest.raises(duckdb.BinderException):
            list(
                rewrite_partitions(
                    conn,
                    queries.MONTHLY_SALES_PERFORMANCE,
                    keys=["2024-01-01"],
                    params={"start": date(2024, 1, 1), "end": HOSTILE},
                )
            )
        metadata = table_metadata(
            conn, "products", where="product_name = ?", params=[HOSTILE], order_by="product_id"
        )
    assert metadata["dagster/row_count"] == 0
    assert changed_since_published() == []


def test_csv_folder_with_quotes_and_semicolons_in_its_name_loads_as_data(
    published, changed_since_published, csv_dir, tmp_path, database
):
    hostile_dir = tmp_path / HOSTILE
    csv_dir.rename(hostile_dir)
    # A product renamed in the file, so the table shows that this load read it.
    rewrite_csv(hostile_dir / "products.csv", lambda rows: rows[1].__setitem__(1, HOSTILE))

    events = list(
        load_csv(
            "products",
            *_duckdb_and_csv_folder(database, hostile_dir),
            PRODUCT_CHECKS,
        )
    )

    products = sorted(expected.rows(expected.read_csv(hostile_dir, "products")))
    assert (HOSTILE,) in {(name,) for _, name, _, _ in products}
    assert events[-1].metadata["dagster/row_count"] == len(products)
    assert changed_since_published() == ["products"]
    assert snapshot(database)["products"] == products


def _duckdb_and_csv_folder(database, csv_dir):
    found = project_resources(database, csv_dir)
    return found["duckdb"], found["csv_folder"]


def _child(code: str, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args], text=True, **popen
    )


MATERIALIZE = """
    import sys, warnings
    import dagster as dg
    from etl_tutorial.definitions import defs
    from etl_tutorial_tests.helpers import project_resources

    warnings.simplefilter("ignore")
    database, csv_dir, asset, partition, wait = sys.argv[1:]
    if wait == "wait":
        # Imports done: say so, and start only when the test says go, with the others.
        print("ready", flush=True)
        sys.stdin.readline()
    result = dg.materialize(
        list(defs.assets),
        selection=[asset],
        partition_key=partition or None,
        raise_on_error=False,
        resources=project_resources(database, csv_dir),
    )
    failures = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    print("OK" if result.success else "FAILED: " + " ".join(failures))
"""


# Each of the next two starts Python processes that import Dagster: seconds each.
@pytest.mark.slow
def test_killing_a_materialization_mid_write_keeps_the_previous_tables(
    published, changed_since_published, csv_dir, sample_csvs, database, query, materialize
):
    # The child imports Dagster while the big file is written.
    child = _child(
        MATERIALIZE,
        str(database),
        str(csv_dir),
        "sales_data",
        "",
        "wait",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    big_csv = csv_dir / "sales_data.csv"
    write_two_million_sales(csv_dir)
    assert child.stdout.readline().strip() == "ready"
    size = database.stat().st_size
    child.stdin.write("go\n")
    child.stdin.flush()

    for line in child.stderr:
        if 'Started execution of step "sales_data"' in line:
            break
    kill_once_writing(child.pid, database, size)
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert "STEP_SUCCESS" not in child.stderr.read(), "the load finished before the kill"

    assert changed_since_published() == []
    # The file is still good for writing: the next load replaces the table.
    shutil.copy(sample_csvs / "sales_data.csv", big_csv)
    materialize(["sales_data"])
    assert query("select * from sales_data order by order_id") == expected.rows(
        expected.read_csv(sample_csvs, "sales_data")
    )


@pytest.mark.slow
def test_concurrent_writers_outside_the_pool_never_lose_or_duplicate_a_partition(
    published, csv_dir, database, query
):
    months = ["2024-01-01", "2024-02-01", "2024-03-01"]
    # Change every sale, so a month shows whether its own writer committed.
    query("update joined_data set dollar_amount = dollar_amount + 1")
    children = {
        month: _child(
            MATERIALIZE,
            str(database),
            str(csv_dir),
            "monthly_sales_performance",
            month,
            "wait",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for month in months
    }
    # Every writer has imported everything before any starts, so their writes collide.
    for child in children.values():
        assert child.stdout.readline().strip() == "ready"
    for child in children.values():
        child.stdin.write("go\n")
        child.stdin.flush()
    outcomes = {
        month: child.communicate(timeout=300)[0].strip() for month, child in children.items()
    }

    rows = query("select * from monthly_sales_performance")
    assert len(rows) == len(set(rows)), "a partition's rows were written twice"
    new_totals: dict[tuple, Decimal] = defaultdict(Decimal)
    for day, rep, product, amount in query(
        "select date, rep_name, product_name, dollar_amount from joined_data"
    ):
        new_totals[(f"{day:%Y-%m}", rep, product)] += amount
    before = set(published["monthly_sales_performance"])
    for month in months:
        key = month[:7]
        written = {r for r in rows if r[0] == key}
        if outcomes[month] == "OK":
            assert written == {(*k, v) for k, v in new_totals.items() if k[0] == key}
        else:
            assert "Could not set lock on file" in outcomes[month], outcomes[month]
            assert written == {r for r in before if r[0] == key}
    raced = {month[:7] for month in months}
    assert {r for r in rows if r[0] not in raced} == {r for r in before if r[0] not in raced}
    assert "OK" in outcomes.values()
