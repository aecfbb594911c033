"""A throwaway PostgreSQL server from Debian's packages, on a free loopback port, for the
deployment test: `initdb` into a temporary folder, `pg_ctl start`, and always `pg_ctl stop`."""

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from harness.dagster_dev import free_port

# Debian installs each major version's server programs here, off PATH.
DEBIAN_SERVERS = Path("/usr/lib/postgresql")
USER = "dagster"
DATABASE = "dagster"


def server_bin() -> Path | None:
    """The newest PostgreSQL server's bin folder, or None when none is installed."""
    found = sorted(
        DEBIAN_SERVERS.glob("*/bin/pg_ctl"), key=lambda path: int(path.parent.parent.name)
    )
    return found[-1].parent if found else None


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    password: str
    database: str

    def dagster_env(self) -> dict[str, str]:
        """The environment deploy/dagster.yaml reads its connection from."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }

    def connect(self, database: str | None = None):
        return closing(
            psycopg2.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                dbname=database or self.database,
            )
        )

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


@contextmanager
def postgres_server(bin_dir: Path) -> Iterator[Postgres]:
    """A new cluster with one password-protected user and database. PostgreSQL refuses to run
    as root, so as root its programs run as Debian's `postgres` user."""
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="etl_tutorial_postgres_"))
    data, password = folder / "data", secrets.token_hex(16)
    (folder / "password").write_text(password)
    if as_owner:
        shutil.chown(folder, "postgres")
        shutil.chown(folder / "password", "postgres")
    port = free_port()

    def run(*command: str | Path) -> None:
        subprocess.run([*as_owner, *map(str, command)], check=True, capture_output=True)

    try:
        run(
            bin_dir / "initdb",
            *("-D", data, "-U", USER, "--pwfile", folder / "password"),
            *("--auth", "scram-sha-256", "--encoding", "UTF8"),
        )
        run(
            bin_dir / "pg_ctl",
            *("-D", data, "-l", folder / "server.log", "-w", "start"),
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder}",
        )
        server = Postgres("127.0.0.1", port, USER, password, DATABASE)
        with server.connect("postgres") as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"create database {DATABASE}")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
