"""Lake mode: the same tables in DuckLake, a lakehouse format whose catalog lives in a
database (PostgreSQL, for many writers on many machines) and whose data is Parquet files in a
folder (shared storage, or object storage in production).

DuckLake and the PostgreSQL scanner are DuckDB extensions. DuckDB downloads extensions when
first used, which a machine without network cannot do; PyPI ships them as packages, for
DuckDB 1.5.5 only, so lake mode runs from its own locked profile (`make install-lake`:
`.venv-lake`, `requirements-lake.lock`) while the default mode stays on DuckDB 2.
"""

import importlib
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

EXTENSIONS = ("ducklake", "postgres_scanner")
ATTACH_ATTEMPTS = 5


def extension_file(name: str) -> Path:
    """The extension's binary, from its PyPI package (`duckdb-extension-<name>`)."""
    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        raise RuntimeError(
            f"lake mode needs the {name} extension of DuckDB {duckdb.__version__}, which this "
            "environment does not have: run it from the lake profile (make install-lake, then "
            ".venv-lake/bin/...)"
        ) from None
    return (
        Path(package.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / f"{name}.duckdb_extension"
    )


def sql_string(value: str) -> str:
    """`value` as a SQL string literal. Only for the statements DuckDB parses no parameter in
    (ATTACH, LOAD: `attach ? as lake` is a syntax error); everything else is bound."""
    return "'" + value.replace("'", "''") + "'"


class DuckLakeResource(DuckDBResource):
    """A `DuckDBResource` whose connections read and write a DuckLake, attached as `lake` and
    used as the default catalog: every query of the code location runs unchanged.

    `database` is the catalog: `postgres:dbname=... host=... port=... user=...` (the password
    from libpq's PGPASSWORD or ~/.pgpass, never in this string), or a file path for one
    machine. Each connection is a DuckDB of its own in memory; DuckLake gives each commit a
    snapshot, so readers see the old rows or the new ones."""

    data_path: str = Field(description="The folder (or object-store URL) of the Parquet files.")

    @contextmanager
    def get_connection(self):
        conn = duckdb.connect(config={"custom_user_agent": "dagster", **self.connection_config})
        try:
            for name in EXTENSIONS:
                conn.execute(f"load {sql_string(str(extension_file(name)))}")
            self._attach(conn)
            conn.execute("use lake")
        except BaseException:
            conn.close()
            raise
        yield conn
        conn.close()

    def _attach(self, conn: duckdb.DuckDBPyConnection) -> None:
        attach = (
            f"attach {sql_string('ducklake:' + self.database)} as lake "
            f"(data_path {sql_string(self.data_path)})"
        )
        for _ in range(ATTACH_ATTEMPTS - 1):
            try:
                conn.execute(attach)
                return
            except duckdb.Error as error:
                # The first writers of a new catalog race to create its tables in PostgreSQL;
                # those that lose find them made, and attach on the next try.
                if not (
                    "Failed to initialize DuckLake" in str(error) and "already exists" in str(error)
                ):
                    raise
            time.sleep(0.5)
        conn.execute(attach)


def celery_executor() -> dg.ExecutorDefinition:
    """Dagster's Celery executor, on the broker named by DAGSTER_CELERY_BROKER (a Redis URL),
    which also keeps the steps' results. Workers started with deploy/lake/celery.yaml read the
    same variable."""
    try:
        import dagster_celery
    except ImportError:
        raise RuntimeError(
            "DAGSTER_CELERY_BROKER is set, but this environment has no dagster-celery: run "
            "from the lake profile (make install-lake, then .venv-lake/bin/...)"
        ) from None
    broker = {"env": "DAGSTER_CELERY_BROKER"}
    return dagster_celery.celery_executor.configured(
        {"broker": broker, "backend": broker}, name="celery"
    )
