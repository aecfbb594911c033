"""The code location deployed as docs/deploying.md does it: a gRPC code server, the
webserver and the daemon as three separate processes, each started by deploy/serve as the
systemd units start it, sharing deploy/dagster.yaml, whose storage is a PostgreSQL server."""

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from etl_tutorial.paths import PROJECT_DIR
from harness.dagster_dev import BIN, DagsterDev, free_port, stop
from harness.postgres import Postgres

DEPLOY = PROJECT_DIR / "deploy"
SERVE = DEPLOY / "serve"


@dataclass
class Deployment(DagsterDev):
    home: Path = DEPLOY
    daemon: subprocess.Popen | None = None

    def start_daemon(self) -> None:
        self.daemon = start([SERVE, "daemon"], self.env, self.home / "daemon.log")

    @contextmanager
    def viewer(self, timeout: float = 180) -> Iterator[DagsterDev]:
        """The read-only webserver, on DAGSTER_VIEWER_PORT, until the block ends."""
        log = self.home / "viewer.log"
        process = start([SERVE, "viewer"], self.env, log)
        try:
            viewer = DagsterDev(
                url=f"http://127.0.0.1:{self.env['DAGSTER_VIEWER_PORT']}",
                env=self.env,
                log=log,
                process=process,
                workspace=self.workspace,
            )
            viewer._wait_until_loaded(timeout)
            yield viewer
        finally:
            stop(process)

    def kill_daemon(self) -> None:
        """SIGKILL to the daemon and anything it started, as when its machine goes away."""
        os.killpg(self.daemon.pid, signal.SIGKILL)
        self.daemon.wait(timeout=30)


def read_settings(path: Path) -> dict[str, str]:
    """The KEY=value lines of a settings file, as systemd's EnvironmentFile reads them."""
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def start(command: list, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("a") as log_file:
        return subprocess.Popen(
            [str(part) for part in command],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own process group, so that stopping it stops whatever it started.
            start_new_session=True,
        )


def _wait_for_code_server(
    process: subprocess.Popen, port: int, env: dict[str, str], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the code server exited early:\n{log.read_text()[-3000:]}")
        check = subprocess.run(
            [BIN / "dagster", "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(port)],
            env=env,
            capture_output=True,
        )
        if check.returncode == 0:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the code server is not serving after {timeout:.0f} s")


@contextmanager
def deployment(
    home: Path,
    postgres: Postgres,
    warehouse: Mapping[str, str],
    csv_dir: Path,
    *,
    instance: Path = DEPLOY / "dagster.yaml",
    timeout: float = 180,
) -> Iterator[Deployment]:
    """The three processes, each in its own process group, all stopped at the end.

    `warehouse` is the environment that names where the tables are (`DUCKDB_DATABASE`, or lake
    mode's settings); `instance` the dagster.yaml copied into `home`."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(instance, home / "dagster.yaml")
    # The settings deploy/create-env-file writes, with this test's PostgreSQL server, ports and
    # folders in place of a machine's.
    subprocess.run(
        [DEPLOY / "create-env-file", home / "dagster.env"], check=True, capture_output=True
    )
    code_port, web_port, viewer_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        **read_settings(home / "dagster.env"),
        **postgres.dagster_env(),
        **warehouse,
        "DAGSTER_HOME": str(home),
        "DAGSTER_CODE_SERVER_PORT": str(code_port),
        "DAGSTER_WEBSERVER_PORT": str(web_port),
        "DAGSTER_VIEWER_PORT": str(viewer_port),
        "SALES_CSV_DIR": str(csv_dir),
        # As under `dagster dev`: the charts and the request folder stay out of the checkout.
        "SALES_CHART_DIR": str(home / "charts"),
        "ADHOC_REQUEST_DIR": str(home / "requests"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    # deploy/serve runs Dagster from the checkout's .venv, as under systemd, which sets no
    # VIRTUAL_ENV; from lake mode's .venv-lake when the test runs there.
    env.pop("VIRTUAL_ENV", None)
    if BIN.parent != PROJECT_DIR / ".venv":
        env["VIRTUAL_ENV"] = str(BIN.parent)
    workspace = DEPLOY / "workspace.yaml"
    with ExitStack() as stack:
        # All three at once, as systemd starts them at boot: the webserver and the daemon load
        # the code location once the code server serves it, and again whenever it restarts.
        code_server = start([SERVE, "code-server"], env, home / "code_server.log")
        stack.callback(stop, code_server)
        webserver = start([SERVE, "webserver"], env, home / "webserver.log")
        stack.callback(stop, webserver)
        server = Deployment(
            url=f"http://127.0.0.1:{web_port}",
            env=env,
            log=home / "webserver.log",
            process=webserver,
            workspace=workspace,
            home=home,
        )
        server.start_daemon()
        stack.callback(lambda: stop(server.daemon))
        _wait_for_code_server(code_server, code_port, env, home / "code_server.log", timeout)
        server._wait_until_loaded(timeout, unreachable_at_first=True)
        yield server
