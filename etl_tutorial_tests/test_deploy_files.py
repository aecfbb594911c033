"""What a deployment is started from, short of starting it (test_deploy.py does): the settings
file and the command that creates it, the systemd units, and `make dev`'s warning when asked to
listen beyond this machine."""

import os
import shutil
import socket
import stat
import subprocess

import pytest

from etl_tutorial.paths import PROJECT_DIR
from harness.deployment import DEPLOY, read_settings

# The processes docs/deploying.md has systemd start from the template unit.
INSTANCES = ("code-server", "webserver", "daemon", "viewer")
# Every setting deploy/serve and deploy/dagster.yaml read.
SETTINGS = {
    "DAGSTER_HOME",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_CODE_SERVER_HOST",
    "DAGSTER_CODE_SERVER_PORT",
    "DAGSTER_WEBSERVER_PORT",
    "DAGSTER_VIEWER_PORT",
}


def test_the_settings_file_is_created_owner_only_with_a_new_password(tmp_path):
    first, second = tmp_path / "first.env", tmp_path / "second.env"

    for path in (first, second):
        subprocess.run([DEPLOY / "create-env-file", path], check=True, capture_output=True)

    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    settings = read_settings(first)
    assert set(settings) == SETTINGS
    assert settings["DAGSTER_HOME"] == str(DEPLOY)
    # The code server's gRPC port has no login either: it can start runs.
    assert settings["DAGSTER_CODE_SERVER_HOST"] == "127.0.0.1"
    assert len(settings["DAGSTER_PG_PASSWORD"]) == 32
    assert settings["DAGSTER_PG_PASSWORD"] != read_settings(second)["DAGSTER_PG_PASSWORD"]


def test_the_settings_file_is_never_overwritten_and_never_committed(tmp_path):
    path = tmp_path / "dagster.env"
    path.write_text("DAGSTER_PG_PASSWORD=the one in use\n")

    result = subprocess.run(
        [DEPLOY / "create-env-file", path], capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
    assert "already exists" in result.stderr
    assert path.read_text() == "DAGSTER_PG_PASSWORD=the one in use\n"
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", "deploy/dagster.env"], cwd=PROJECT_DIR, check=False
    )
    assert ignored.returncode == 0, "git would commit deploy/dagster.env"


@pytest.mark.parametrize("instance", INSTANCES)
def test_each_service_unit_passes_systemd_analyze_verify(tmp_path, instance):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package has it)")
    # As installed with the checkout in /opt/etl_tutorial, but pointing at this checkout: the
    # tool checks that ExecStart's program exists.
    unit = (DEPLOY / "systemd" / "dagster@.service").read_text()
    assert "/opt/etl_tutorial/deploy/serve %i" in unit
    (tmp_path / "dagster@.service").write_text(unit.replace("/opt/etl_tutorial", str(PROJECT_DIR)))

    result = subprocess.run(
        ["systemd-analyze", "verify", f"dagster@{instance}.service"],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
        capture_output=True,
        text=True,
        check=False,
    )

    # It exits 0 even when it ignores an unknown key or value, saying so on stderr.
    assert (result.returncode, result.stderr) == (0, "")


def _make_dev(host: str) -> subprocess.CompletedProcess:
    """`make dev HOST=host` on a port taken by this test, so that it stops before starting
    anything; `-o` keeps make from installing first."""
    with socket.socket() as taken:
        taken.bind((host, 0))
        taken.listen()
        port = taken.getsockname()[1]
        return subprocess.run(
            ["make", "-o", ".venv/.installed", "dev", f"HOST={host}", f"PORT={port}"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def test_make_dev_beyond_this_machine_warns_that_the_ui_has_no_login():
    result = _make_dev("0.0.0.0")  # noqa: S104

    assert "already in use" in result.stdout  # it stopped there, having started nothing
    assert "WARNING: Dagster's UI has no login." in result.stderr
    assert "docs/deploying.md" in result.stderr


def test_make_dev_on_loopback_gives_no_warning():
    result = _make_dev("127.0.0.1")

    assert "already in use" in result.stdout
    assert "WARNING" not in result.stderr
