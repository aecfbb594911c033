import csv
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from etl_tutorial.definitions import defs
from etl_tutorial.sources import DATA_DIR, CsvFolder

ALL_ASSETS = list(defs.assets) + list(defs.asset_checks)
UNPARTITIONED = ["products", "sales_reps", "sales_data", "joined_data"]


def rewrite_csv(path: Path, edit) -> None:
    """Rewrites a CSV after `edit(rows)` has changed its parsed rows (header first) in place."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    edit(rows)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped CSVs that a test may edit."""
    return Path(
        shutil.copytree(DATA_DIR, tmp_path / "csv", ignore=shutil.ignore_patterns("*.duckdb*"))
    )


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def materialize(database: Path, csv_dir: Path):
    """Materializes a selection of the real definitions against the test's own database and CSVs."""

    def run(
        selection, *, partition_key=None, partition_range=None, run_config=None, raise_on_error=True
    ):
        tags = {}
        if partition_range:
            tags = {
                "dagster/asset_partition_range_start": partition_range[0],
                "dagster/asset_partition_range_end": partition_range[1],
            }
        return dg.materialize(
            ALL_ASSETS,
            selection=selection,
            partition_key=partition_key,
            tags=tags,
            run_config=run_config,
            raise_on_error=raise_on_error,
            resources={
                "duckdb": DuckDBResource(database=str(database)),
                "csv_folder": CsvFolder(path=str(csv_dir)),
            },
        )

    return run


@pytest.fixture
def query(database: Path):
    """Runs a query on the test's database in a short-lived connection, as the assets do."""

    def run(sql: str, params=()):
        with duckdb.connect(str(database)) as conn:
            return conn.execute(sql, params).fetchall()

    return run
