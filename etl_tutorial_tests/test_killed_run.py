"""A run whose process is killed mid-write under `dagster dev`: it is marked failed, its pool
slot is freed, the next queued run goes, and the tables keep their last good rows."""

import re
import shutil
import time
from pathlib import Path

import pytest

from etl_tutorial_tests.helpers import kill_once_writing, opened, write_two_million_sales
from harness.dagster_dev import DagsterDev, dagster_dev

# Starts a `dagster dev` of its own and loads two million rows: about a minute.
pytestmark = pytest.mark.slow

RUN_EVENTS = """
query RunEvents($id: ID!) {
  logsForRun(runId: $id) {
    __typename
    ... on EventConnection { events { ... on MessageEvent { message eventType stepKey } } }
  }
}
"""

# How soon after the kill the run must show as failed, and the next run must start: the code
# server notices the dead process within a second; run monitoring frees its slot within about
# 10 s, and the queue looks every second (.dagster/dagster.yaml).
FAILED_WITHIN = 10
PID = re.compile(r"Executing steps in process \(pid: (\d+)\)")
NEXT_RUN_STARTS_WITHIN = 40


def _events(server: DagsterDev, run_id: str) -> list[dict]:
    logs = server.graphql(RUN_EVENTS, {"id": run_id})["logsForRun"]
    return logs.get("events", [])


def _pid(server: DagsterDev, run_id: str) -> int | None:
    """The pid of the run's process, once the run has said it (before its first step)."""
    events = _events(server, run_id)
    pids = [int(found[1]) for e in events if (found := PID.search(e.get("message", "")))]
    return pids[0] if pids else None


def _pid_once_started(server: DagsterDev, run_id: str, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while (pid := _pid(server, run_id)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} did not start in {timeout:.0f} s")
        time.sleep(0.05)
    return pid


def test_a_killed_run_fails_frees_the_pool_and_the_next_queued_run_succeeds(tmp_path, sample_csvs):
    home = tmp_path / "dagster_home"
    csv_dir = Path(shutil.copytree(sample_csvs, tmp_path / "csv"))
    database = tmp_path / "sales.duckdb"
    with dagster_dev(home, database=database, csv_dir=csv_dir) as server:
        # Only the runs this test launches.
        server.stop_sensor("default_automation_condition_sensor")
        server.materialize(["products", "sales_reps", "sales_data"])
        with opened(database) as conn:
            last_good = conn.execute("select * from sales_data order by all").fetchall()
        write_two_million_sales(csv_dir)

        size = database.stat().st_size
        killed_id = server.launch_run(["sales_data"])
        killed_at = kill_once_writing(_pid_once_started(server, killed_id), database, size)
        # Queued behind the killed run's pool slot.
        next_id = server.launch_run(["products"])

        killed = server.wait_for_run(killed_id, timeout=60)
        assert killed["status"] == "FAILURE", killed
        assert killed["endTime"] - killed_at <= FAILED_WITHIN, killed
        assert not any(e.get("eventType") == "STEP_SUCCESS" for e in _events(server, killed_id)), (
            "the load finished before the kill"
        )

        following = server.wait_for_run(next_id, timeout=120)
        assert following["status"] == "SUCCESS", following
        assert following["startTime"] - killed_at <= NEXT_RUN_STARTS_WITHIN, following

    with opened(database) as conn:
        assert conn.execute("select * from sales_data order by all").fetchall() == last_good
