"""Lake mode past one machine as docs/scaling.md deploys it, for the distributed test and the
benchmark: the code server, webserver and daemon on deploy/lake/dagster.yaml, with the instance
and the DuckLake catalog in one throwaway PostgreSQL server, a throwaway Redis server (Debian's
redis-server) as Celery's broker, and Celery workers, each a process group of its own. Runs in
the lake profile (.venv-lake)."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from etl_tutorial.lake import DuckLakeResource
from harness.dagster_dev import BIN, free_port, stop
from harness.deployment import DEPLOY, Deployment, deployment, start
from harness.postgres import Postgres

WORKERS = ("worker1", "worker2")


@dataclass
class LakeDeployment:
    server: Deployment
    # The tables, read from this process as any other reader would.
    lake: DuckLakeResource
    # Each worker's process group (the worker and the processes it runs steps in), by name.
    worker_groups: dict[int, str]


@contextmanager
def lake_deployment(
    home: Path, postgres: Postgres, csv_dir: Path, workers: Sequence[str] = WORKERS
) -> Iterator[LakeDeployment]:
    """Everything started, and always stopped at the end. The automation sensor is stopped:
    the runs are the caller's."""
    with postgres.connect("postgres") as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("create database lake")
    catalog = f"postgres:dbname=lake host={postgres.host} port={postgres.port} user={postgres.user}"
    data_path = f"{home / 'parquet'}{os.sep}"
    with ExitStack() as stack:
        broker = stack.enter_context(redis_server())
        # libpq's own variable: the catalog's password, for every process started and for
        # this one's reads.
        stack.enter_context(_environment("PGPASSWORD", postgres.password))
        warehouse = {
            "DUCKLAKE_CATALOG": catalog,
            "DUCKLAKE_DATA_PATH": data_path,
            "DAGSTER_CELERY_BROKER": broker,
        }
        server = stack.enter_context(
            deployment(
                home, postgres, warehouse, csv_dir, instance=DEPLOY / "lake" / "dagster.yaml"
            )
        )
        server.stop_sensor("default_automation_condition_sensor")
        groups = {}
        for name in workers:
            worker = start_worker(name, server.env, home / f"{name}.log")
            stack.callback(stop, worker)
            groups[worker.pid] = name
        yield LakeDeployment(
            server, DuckLakeResource(database=catalog, data_path=data_path), groups
        )


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def redis_server_program() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server(timeout: float = 30) -> Iterator[str]:
    """A Redis server on a free loopback port that keeps nothing on disk; yields its URL."""
    folder = Path(tempfile.mkdtemp(prefix="etl_tutorial_redis_"))
    port = free_port()
    process = start(
        [redis_server_program(), "--port", port, "--bind", "127.0.0.1", "--dir", folder]
        + ["--save", "", "--appendonly", "no"],
        {},
        folder / "redis.log",
    )
    try:
        deadline = time.monotonic() + timeout
        while not _answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"redis-server did not start:\n{(folder / 'redis.log').read_text()}"
                )
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _answers_ping(port: int) -> bool:
    """Whether a Redis server on the port answers PING (Redis's protocol, inline form)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`dagster-celery worker start` with deploy/lake/celery.yaml: one process running one
    step at a time (Celery's own child process), ready once it says so in its log."""
    process = start(
        [BIN / "dagster-celery", "worker", "start", "-A", "dagster_celery.app"]
        + ["-y", DEPLOY / "lake" / "celery.yaml", "-n", name, "--", "--concurrency", "1"],
        env,
        log,
    )
    try:
        deadline = time.monotonic() + 120
        while " ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Celery worker {name} did not start:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.5)
    except BaseException:
        stop(process)
        raise
    return process
