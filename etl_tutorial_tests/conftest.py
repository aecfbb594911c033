"""Fixtures. pytest-xdist's controller process loads this file too, though it runs no test:
Dagster, DuckDB and the code location are imported by the fixtures that use them, in the
workers, so that the workers start a couple of seconds sooner."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import dagster as dg


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the test modules imported (Dagster, DuckDB, pandas) lives until the process exits:
    frozen out of the garbage collector's way, its collections stay short and a worker exits
    about a second sooner.

    It also stops a run whose tests that must share one worker (an `xdist_group`, such as the
    tests sharing one `dagster dev`) could be split: pytest-xdist keeps them together by
    renaming their node ids, which some pytest versions ignore without a word."""
    if getattr(session.config.option, "loadgroup", False):  # an xdist worker, grouping
        ungrouped = [
            item.nodeid
            for item in session.items
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid
        ]
        if ungrouped:
            raise pytest.UsageError(
                f"pytest-xdist lost the xdist_group of {len(ungrouped)} tests, such as "
                f"{ungrouped[0]}: use the pytest version in requirements.lock"
            )
    gc.freeze()


@pytest.fixture(scope="session")
def instance() -> dg.DagsterInstance:
    """One in-memory Dagster instance for every run a test starts: each test reads only the
    events of its own run, and creating an instance per run would double the suite's time."""
    import dagster as dg

    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture(scope="session")
def sample_csvs(tmp_path_factory, worker_id: str) -> Path:
    """The sample CSVs, as the generator writes the ones shipped in data/. Tests never read
    data/ itself, so a user's edits there (README's exercises) cannot turn a test red."""
    from etl_tutorial import sample_data
    from etl_tutorial_tests.helpers import once_per_session

    with once_per_session(tmp_path_factory, worker_id, "sample_csvs") as (folder, to_build):
        if to_build:
            # Complete or absent: generated beside, then renamed into place.
            sample_data.generate(tmp_path_factory.mktemp("generating")).rename(folder)
    return folder


@pytest.fixture
def csv_dir(tmp_path: Path, sample_csvs: Path) -> Path:
    """A private copy of the sample CSVs that a test may edit."""
    return Path(shutil.copytree(sample_csvs, tmp_path / "csv"))


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def materialize(database: Path, csv_dir: Path, instance: dg.DagsterInstance):
    """Materializes a selection of the real definitions against the test's own database and CSVs."""
    from etl_tutorial_tests.helpers import materializer

    return materializer(database, csv_dir, instance)


@pytest.fixture
def query(database: Path):
    """Runs a query on the test's database, which is closed again afterwards."""
    from etl_tutorial_tests.helpers import opened

    def run(sql: str, params=()):
        with opened(database, read_only=False) as conn:
            return conn.execute(sql, params).fetchall()

    return run


@pytest.fixture(scope="session")
def published_database(
    tmp_path_factory, worker_id: str, sample_csvs: Path, instance: dg.DagsterInstance
) -> Path:
    """Every table materialized once from the sample CSVs, every partition included: once per
    test session, whatever the number of workers (tests copy it, never write it)."""
    from etl_tutorial_tests.helpers import build_every_table, materializer, once_per_session

    with once_per_session(tmp_path_factory, worker_id, "published") as (folder, to_build):
        database = folder / "published.duckdb"
        if to_build:
            building = tmp_path_factory.mktemp("building")
            build_every_table(materializer(building / "published.duckdb", sample_csvs, instance))
            # Complete or absent: a worker that fails halfway leaves nothing to be taken for it.
            building.rename(folder)
    return database


@pytest.fixture(scope="session")
def published_tables(published_database: Path) -> dict[str, list]:
    from etl_tutorial_tests.helpers import snapshot

    return snapshot(published_database)


@pytest.fixture
def published(published_database: Path, published_tables, database: Path) -> dict[str, list]:
    """The test's database starts as a copy of every table published from the sample CSVs
    (`csv_dir` holds the same CSVs); returns their rows."""
    shutil.copy(published_database, database)
    return published_tables


@pytest.fixture
def changed_since_published(published, published_database: Path, database: Path):
    """For a test that starts from the published tables: which of them now differ."""
    from etl_tutorial_tests.helpers import changed_tables

    return lambda: changed_tables(database, published_database)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium. Browser tests ask for it before `server`, so that without it they
    are skipped before a `dagster dev` is started for them."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(
            "chromium is not on PATH: install Debian's chromium package "
            "(.ci/run does) to run the browser tests"
        )
    return path


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server of the module's own (Debian's server programs)."""
    from harness.postgres import postgres_server, server_bin

    bin_dir = server_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL's server programs are not installed: install Debian's postgresql "
            "package (.ci/run does) to run the deployment and lake tests"
        )
    with postgres_server(bin_dir) as server:
        yield server
