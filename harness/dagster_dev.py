"""`dagster dev` in a temporary instance, driven the way the web UI drives it: through the
webserver's GraphQL endpoint. Used by the end-to-end tests and by the benchmark."""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from etl_tutorial.paths import PROJECT_DIR

BIN = Path(sys.executable).parent

LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}
"""

BACKFILL_STATUS = """
query BackfillStatus($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status runs { id status assetSelection { path } } }
    ... on PythonError { message }
  }
}
"""

LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
  }
}
"""

RUN_STATUS = """
query RunStatus($id: ID!) {
  runOrError(runId: $id) { ... on Run { status startTime endTime } }
}
"""

LOCATION_STATUS = """
query { workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""

SENSOR_STATUS = """
query SensorStatus($name: String!) {
  sensorOrError(sensorSelector: {
    repositoryLocationName: "etl_tutorial", repositoryName: "__repository__", sensorName: $name
  }) { ... on Sensor { sensorState { status } } }
}
"""

SENSOR_TICKS = """
query SensorTicks($name: String!) {
  sensorOrError(sensorSelector: {
    repositoryLocationName: "etl_tutorial", repositoryName: "__repository__", sensorName: $name
  }) { ... on Sensor { sensorState { ticks(limit: 10) { status } } } }
}
"""

FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_params(location: str, asset_names: Sequence[str]) -> dict:
    """LAUNCH_RUN's parameters for one run of the assets (and their checks) in `location`."""
    return {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": [name]} for name in asset_names],
        },
        "mode": "default",
        "executionMetadata": {"tags": []},
    }


def assets_per_run(backfill: dict) -> list[tuple[str, ...]]:
    """The assets each of a backfill's runs materializes (its asset selection), sorted."""
    return sorted(
        tuple(sorted("/".join(key["path"]) for key in run["assetSelection"] or []))
        for run in backfill["runs"]
    )


@dataclass
class DagsterDev:
    """A running Dagster webserver, driven through its GraphQL endpoint; `process` is the one
    whose early exit means the server is gone, `workspace` the file its code is loaded from."""

    url: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen
    workspace: Path = PROJECT_DIR / "workspace.yaml"
    # Sent with every request, such as a login for a proxy in front of the webserver.
    headers: Mapping[str, str] = field(default_factory=dict)
    # The certificate an https:// `url` is checked against (a test's own, self-signed).
    cafile: Path | None = None

    @property
    def csv_dir(self) -> Path:
        """The folder the code location reads its CSVs from."""
        return Path(self.env["SALES_CSV_DIR"])

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", body, {"Content-Type": "application/json", **self.headers}
        )
        context = ssl.create_default_context(cafile=self.cafile) if self.cafile else None
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def materialize(self, selection: Sequence[str], timeout: float = 300) -> None:
        """Materializes unpartitioned assets as a run recorded in this instance, so the UI and
        the backfill daemon see them."""
        subprocess.run(
            [BIN / "dagster", "asset", "materialize", "-m", "etl_tutorial.definitions"]
            + ["--select", ",".join(selection)],
            env=self.env,
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def stop_sensor(self, name: str) -> None:
        """Turns a sensor off in this instance, as its toggle on the Automation page does."""
        subprocess.run(
            [BIN / "dagster", "sensor", "stop", name, "-w", str(self.workspace)],
            env=self.env,
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
            timeout=120,
        )
        status = self.graphql(SENSOR_STATUS, {"name": name})["sensorOrError"]
        if status["sensorState"]["status"] != "STOPPED":
            raise RuntimeError(f"sensor {name} is still {status['sensorState']['status']}")

    def finished_ticks(self, sensor: str) -> int:
        """How many of the sensor's ticks have finished (up to 10): skipped, succeeded or failed."""
        state = self.graphql(SENSOR_TICKS, {"name": sensor})["sensorOrError"]["sensorState"]
        return sum(tick["status"] != "STARTED" for tick in state["ticks"])

    def drop_tables(self, tables: Sequence[str]) -> None:
        """Drops `tables` from the code location's database if they exist, so that what they
        hold after a test's runs is those runs' work, whichever test used this server before."""
        with duckdb.connect(self.env["DUCKDB_DATABASE"]) as conn:
            for table in tables:
                conn.execute(f"drop table if exists {table}")

    def launch_backfill(self, asset_names: Sequence[str]) -> str:
        """What the asset page's Materialize dialog sends for "All" partitions."""
        params = {
            "assetSelection": [{"path": [name]} for name in asset_names],
            "allPartitions": True,
        }
        result = self.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill not launched: {result}")
        return result["backfillId"]

    def launch_run(self, asset_names: Sequence[str]) -> str:
        """What "Materialize selected" sends: one run of the assets (and their checks)."""
        (location,) = [
            entry["name"]
            for entry in self.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        ]
        result = self.graphql(LAUNCH_RUN, {"params": run_params(location, asset_names)})
        result = result["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"run not launched: {result}")
        return result["run"]["runId"]

    def wait_for_run(self, run_id: str, timeout: float) -> dict:
        """Polls until the run ends; returns its status, start and end times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.graphql(RUN_STATUS, {"id": run_id})["runOrError"]
            if run["status"] in {"SUCCESS", "FAILURE", "CANCELED"}:
                return run
            time.sleep(0.5)
        raise TimeoutError(f"run {run_id} still running after {timeout:.0f} s")

    def backfill(self, backfill_id: str) -> dict:
        """The backfill's status and its runs' ids, statuses and asset selections."""
        backfill = self.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        if backfill["__typename"] != "PartitionBackfill":
            raise RuntimeError(f"backfill {backfill_id}: {backfill}")
        return backfill

    def wait_for_backfill(self, backfill_id: str, timeout: float) -> dict:
        """Polls until the backfill ends; returns its status and runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            backfill = self.backfill(backfill_id)
            if backfill["status"] in FINISHED_BACKFILL and all(
                run["status"] in {"SUCCESS", "FAILURE", "CANCELED"} for run in backfill["runs"]
            ):
                return backfill
            time.sleep(1)
        raise TimeoutError(f"backfill {backfill_id} still running after {timeout:.0f} s")

    def _wait_until_loaded(self, timeout: float, unreachable_at_first: bool = False) -> None:
        """Waits for the code location to load; a load error fails at once, unless the code
        server may not be serving yet (`unreachable_at_first`): then only the timeout does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.process.args} exited early:\n{self.log.read_text()[-3000:]}"
                )
            try:
                entries = self.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            except (urllib.error.URLError, ConnectionError, RuntimeError):
                entries = []
            if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                errors = [e["locationOrLoadError"] for e in entries]
                if not any(error["__typename"] == "PythonError" for error in errors):
                    return
                if not unreachable_at_first:
                    raise RuntimeError(f"code location failed to load: {errors}")
            time.sleep(0.5)
        raise TimeoutError(
            f"{self.url} not ready after {timeout:.0f} s:\n{self.log.read_text()[-3000:]}"
        )


@contextmanager
def dagster_dev(
    home: Path,
    database: Path,
    csv_dir: Path,
    *,
    module: str | None = None,
    instance_settings: Mapping[str, Mapping] | None = None,
    timeout: float = 120,
) -> Iterator[DagsterDev]:
    """Starts `dagster dev` (webserver and daemon) on a free loopback port with its own
    DAGSTER_HOME holding the project's dagster.yaml, and always stops its whole process group.

    It loads workspace.yaml, or `module` if one is given. `instance_settings` replace or add
    top-level sections of that dagster.yaml (`{"run_queue": {"dequeue_interval_seconds": 1}}`)
    in this instance only."""
    home.mkdir(parents=True, exist_ok=True)
    if instance_settings:
        settings = yaml.safe_load((PROJECT_DIR / ".dagster" / "dagster.yaml").read_text())
        settings.update(instance_settings)
        (home / "dagster.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    else:
        shutil.copy(PROJECT_DIR / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DUCKDB_DATABASE": str(database),
        "SALES_CSV_DIR": str(csv_dir),
        # The overview's charts and the ad hoc request folder are the instance's own, out of
        # the checkout's data/ (git-ignored, and the user's).
        "SALES_CHART_DIR": str(home / "charts"),
        "ADHOC_REQUEST_DIR": str(home / "requests"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = home / "dagster_dev.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [BIN / "dagster", "dev", "--host", "127.0.0.1", "--port", str(port)]
            + (["-m", module] if module else []),
            cwd=PROJECT_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own process group, so the webserver, daemon and code servers stop together.
            start_new_session=True,
        )
    server = DagsterDev(url=f"http://127.0.0.1:{port}", env=env, log=log, process=process)
    try:
        server._wait_until_loaded(timeout)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Stops `process` and everything in its process group: SIGTERM, then SIGKILL."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        # Whatever ignored SIGTERM, or outlived its parent, goes too.
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)
