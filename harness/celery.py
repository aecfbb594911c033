"""Lake mode's distributed pieces for the tests (docs/scaling.md): a throwaway Redis server from
Debian's redis-server package as Celery's broker, and Celery workers started as the doc starts
them, each a process group of its own."""

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from harness.dagster_dev import BIN, free_port, stop
from harness.deployment import DEPLOY, start


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
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start:\n{(folder / 'redis.log').read_text()}"
                    ) from None
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def start_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`dagster-celery worker start` with deploy/lake/celery.yaml: one process running one
    step at a time (Celery's own child process), ready once it says so in its log."""
    process = start(
        [BIN / "dagster-celery", "worker", "start", "-A", "dagster_celery.app"]
        + ["-y", DEPLOY / "lake" / "celery.yaml", "-n", name, "--", "--concurrency", "1"],
        env,
        log,
    )
    deadline = time.monotonic() + 120
    while " ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"Celery worker {name} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return process
