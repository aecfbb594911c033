"""Lake mode: the whole pipeline on DuckLake, its catalog in a throwaway PostgreSQL server and
its Parquet files in a folder, in process. Runs in the lake profile (.venv-lake)."""

import os
from pathlib import Path

import dagster as dg
import pytest

from etl_tutorial.csv_files import CsvFolder
from etl_tutorial.definitions import resources
from etl_tutorial.publishing import connect
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import (
    ALL_ASSETS,
    ALL_CATEGORIES,
    ALL_MONTHS,
    UNPARTITIONED,
    rewrite_csv,
)

pytestmark = [
    pytest.mark.lake,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("lake"),
]


@pytest.fixture(scope="module")
def lake(request, tmp_path_factory, sample_csvs) -> dict[str, dg.ConfigurableResource]:
    """The code location's resources in lake mode, as its environment would set them, with
    every table built from a copy of the sample CSVs."""
    pytest.importorskip("duckdb_extension_ducklake", reason="lake mode runs in .venv-lake")
    postgres = request.getfixturevalue("postgres")
    folder = tmp_path_factory.mktemp("lake")
    csv_dir = folder / "csv"
    csv_dir.mkdir()
    for csv in sample_csvs.iterdir():
        (csv_dir / csv.name).write_bytes(csv.read_bytes())
    with pytest.MonkeyPatch.context() as env:
        # libpq's own variable: the password is never part of the catalog's connection string.
        env.setenv("PGPASSWORD", postgres.password)
        found = resources(
            {
                "DUCKLAKE_CATALOG": f"postgres:dbname={postgres.database} host={postgres.host} "
                f"port={postgres.port} user={postgres.user}",
                "DUCKLAKE_DATA_PATH": f"{folder / 'parquet'}{os.sep}",
                "SALES_CSV_DIR": str(csv_dir),
                "SALES_CHART_DIR": str(folder / "charts"),
            }
        )
        for selection, tags in _everything():
            dg.materialize(ALL_ASSETS, selection=selection, tags=tags, resources=found)
        yield found


def _everything() -> list[tuple[list[str], dict[str, str]]]:
    def all_of(keys: tuple[str, str]) -> dict[str, str]:
        return {
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1],
        }

    return [
        (UNPARTITIONED, {}),
        (["monthly_sales_performance"], all_of(ALL_MONTHS)),
        (["product_performance"], all_of(ALL_CATEGORIES)),
        (["sales_overview"], {}),
    ]


def _rows(lake, sql: str, params=()) -> list[tuple]:
    with connect(lake["duckdb"]) as conn:
        return conn.execute(sql, params).fetchall()


def test_every_table_in_the_lake_equals_the_oracle(lake):
    csv_dir = Path(lake["csv_folder"].path)
    assert set(_rows(lake, "select * from monthly_sales_performance")) == (
        expected.monthly_sales_performance(csv_dir)
    )
    assert set(_rows(lake, "select * from product_performance")) == expected.product_performance(
        csv_dir
    )
    assert _rows(lake, "select * from joined_data order by order_id") == expected.rows(
        expected.joined_data(csv_dir)
    )
    # The rows are in Parquet files under the data path, not in the catalog's database.
    ((files,),) = _rows(lake, "select count(*) from ducklake_list_files('lake', 'sales_data')")
    assert files >= 1


def test_a_failed_check_in_the_lake_leaves_the_last_snapshot_as_it_was(lake, tmp_path):
    before = _rows(lake, "select * from sales_data order by order_id")
    ((snapshot,),) = _rows(lake, "select max(snapshot_id) from ducklake_snapshots('lake')")
    # A repeated order_id, in a copy of the CSVs: the unique check on sales_data fails.
    csv_dir = Path(lake["csv_folder"].path)
    for csv in csv_dir.iterdir():
        (tmp_path / csv.name).write_bytes(csv.read_bytes())
    rewrite_csv(tmp_path / "sales_data.csv", lambda rows: rows.append(rows[1]))

    result = dg.materialize(
        ALL_ASSETS,
        selection=["sales_data"],
        resources={**lake, "csv_folder": CsvFolder(path=str(tmp_path))},
        raise_on_error=False,
    )

    assert not result.success
    assert _rows(lake, "select * from sales_data order by order_id") == before
    assert (
        _rows(lake, "select * from sales_data at (version => ?) order by order_id", [snapshot])
        == before
    )
