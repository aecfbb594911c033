"""A run whose process is killed mid-write under `dagster dev`: it is marked failed, its pool
slot is freed, the next queued run goes, and the tables keep their last good rows."""

import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from etl_tutorial_tests.helpers import opened, write_two_million_sales
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


def _pid_once_writing(server: DagsterDev, run_id: str, timeout: float = 120) -> int:
    """The pid of the run's process, once its sales_data step has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = _events(server, run_id)
        started = any(
            e.get("eventType") == "STEP_START" and e.get("stepKey") == "sales_data" for e in events
        )
        pids = [int(found[1]) for e in events if (found := PID.search(e.get("message", "")))]
        if started and pids:
            return pids[0]
        time.sleep(0.2)
    raise TimeoutError(f"run {run_id} did not start its sales_data step in {timeout:.0f} s")


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

        killed_id = server.launch_run(["sales_data"])
        pid = _pid_once_writing(server, killed_id)
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
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
