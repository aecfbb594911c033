"""The code location on a production-shaped deployment: a gRPC code server, the webserver and
the daemon as three processes started by deploy/serve, sharing deploy/dagster.yaml with its
storage in a real PostgreSQL server; a daemon that dies mid-backfill; and the way in from a
network, Debian's nginx with deploy/nginx/'s configuration, which asks for a login."""

import base64
import http.client
import ipaddress
import json
import secrets
import ssl
import time
import urllib.parse
from dataclasses import replace
from pathlib import Path

import pytest

from etl_tutorial.definitions import monthly_partition, product_category_partition
from etl_tutorial_tests import expected
from etl_tutorial_tests.helpers import PARTITIONED, UNPARTITIONED, distinct_rows, ui_page
from harness.dagster_dev import (
    LAUNCH_RUN,
    LOCATION_STATUS,
    DagsterDev,
    assets_per_run,
    run_params,
)
from harness.deployment import Deployment, deployment
from harness.postgres import Postgres
from harness.proxy import Proxy, nginx_binary, nginx_proxy

# Server processes: kept out of the quick suite and on one worker with the deployment they share.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("deployment")]

TIMEOUT = 300
# A backfill of every partition of both assets records one materialization per partition.
PARTITIONS = len(monthly_partition.get_partition_keys()) + len(
    product_category_partition.get_partition_keys()
)
UNFINISHED = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED"}


@pytest.fixture(scope="module")
def deployed(postgres: Postgres, tmp_path_factory, sample_csvs) -> Deployment:
    """The deployment with the ingestion assets materialized by a run through its queue."""
    home = tmp_path_factory.mktemp("deployment")
    warehouse = {"DUCKDB_DATABASE": str(home / "sales.duckdb")}
    with deployment(home, postgres, warehouse, sample_csvs) as server:
        # Eager automation would add runs of its own; these tests count the backfills' runs.
        server.stop_sensor("default_automation_condition_sensor")
        run = server.wait_for_run(server.launch_run(UNPARTITIONED), timeout=TIMEOUT)
        assert run["status"] == "SUCCESS", server.log.read_text()[-3000:]
        yield server


def _assert_backfilled_once(server: Deployment, postgres: Postgres, backfill: dict) -> None:
    """The backfill succeeded in two runs, one per asset, that wrote every partition exactly
    once, with the totals of an independent computation, and PostgreSQL holds its record."""
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    run_ids = [run["id"] for run in backfill["runs"]]
    assert assets_per_run(backfill) == [("monthly_sales_performance",), ("product_performance",)]
    assert {run["status"] for run in backfill["runs"]} == {"SUCCESS"}
    database = server.env["DUCKDB_DATABASE"]
    monthly = distinct_rows(database, "monthly_sales_performance")
    assert monthly == expected.monthly_sales_performance(server.csv_dir)
    by_category = distinct_rows(database, "product_performance")
    assert by_category == expected.product_performance(server.csv_dir)
    # The instance's storage is PostgreSQL: the runs, their events and the backfill are rows.
    stored = postgres.query("select run_id, status from runs where run_id = any(%s)", [run_ids])
    assert sorted(stored) == sorted((run_id, "SUCCESS") for run_id in run_ids)
    ((materializations,),) = postgres.query(
        "select count(*) from event_logs "
        "where run_id = any(%s) and dagster_event_type = 'ASSET_MATERIALIZATION'",
        [run_ids],
    )
    assert materializations == PARTITIONS
    assert postgres.query("select status from bulk_actions where key = %s", [backfill["id"]]) == [
        ("COMPLETED_SUCCESS",)
    ]


def test_a_backfill_of_every_partition_completes_in_one_run_per_asset_stored_in_postgres(
    deployed, postgres
):
    deployed.drop_tables(PARTITIONED)
    backfill_id = deployed.launch_backfill(PARTITIONED)

    backfill = deployed.wait_for_backfill(backfill_id, timeout=TIMEOUT)

    _assert_backfilled_once(deployed, postgres, {**backfill, "id": backfill_id})


def _wait_for_an_unfinished_run(server: Deployment, backfill_id: str) -> dict:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        backfill = server.backfill(backfill_id)
        unfinished = [run for run in backfill["runs"] if run["status"] in UNFINISHED]
        if unfinished:
            return unfinished[0]
        assert backfill["status"] == "REQUESTED", (
            f"no run seen before the backfill ended: {backfill}"
        )
        time.sleep(0.2)
    raise TimeoutError(f"backfill {backfill_id} started no run in {TIMEOUT} s")


def test_killing_the_daemon_mid_backfill_loses_and_duplicates_nothing(deployed, postgres):
    deployed.drop_tables(PARTITIONED)
    backfill_id = deployed.launch_backfill(PARTITIONED)
    run = _wait_for_an_unfinished_run(deployed, backfill_id)

    deployed.kill_daemon()
    deployed.start_daemon()

    backfill = deployed.wait_for_backfill(backfill_id, timeout=TIMEOUT)
    assert run["id"] in {r["id"] for r in backfill["runs"]}
    _assert_backfilled_once(deployed, postgres, {**backfill, "id": backfill_id})


# The proxy's users: who may use the whole UI, and who may only look.
EDITOR = ("editor", secrets.token_urlsafe(12))
VIEWER = ("viewer", secrets.token_urlsafe(12))


def _basic(user: tuple[str, str]) -> dict[str, str]:
    """The Authorization header a browser sends after its user logs in."""
    return {"Authorization": "Basic " + base64.b64encode(":".join(user).encode()).decode()}


@pytest.fixture(scope="module")
def proxied(deployed: Deployment, tmp_path_factory) -> tuple[DagsterDev, Proxy]:
    """The read-only webserver beside the deployment's, and nginx in front of both."""
    if nginx_binary() is None:
        pytest.skip("nginx is not installed: install Debian's nginx package (.ci/run does)")
    with (
        deployed.viewer() as viewer,
        nginx_proxy(
            tmp_path_factory.mktemp("nginx"),
            web_port=int(deployed.env["DAGSTER_WEBSERVER_PORT"]),
            viewer_port=int(deployed.env["DAGSTER_VIEWER_PORT"]),
            editors=dict([EDITOR]),
            viewers=dict([VIEWER]),
        ) as proxy,
    ):
        yield viewer, proxy


def _request(
    proxy: Proxy, url: str, method: str = "GET", body: str | None = None, headers=None
) -> http.client.HTTPResponse:
    """One request, as it is answered: a 401 or a redirect is returned, not raised."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=proxy.cafile)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=30)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(method, parts.path or "/", body=body, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _launch(proxy: Proxy, url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    """What "Materialize" sends: a launchRun mutation, posted to /graphql."""
    variables = {"params": run_params("etl_tutorial", ["products"])}
    body = json.dumps({"query": LAUNCH_RUN, "variables": variables})
    return _request(
        proxy,
        f"{url}/graphql",
        "POST",
        body,
        {"Content-Type": "application/json", **headers},
    )


def _websocket_upgrade(proxy: Proxy, url: str, headers: dict[str, str]) -> int:
    """The status of the WebSocket handshake the UI makes on /graphql for live updates."""
    return _request(
        proxy,
        f"{url}/graphql",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(secrets.token_bytes(16)).decode(),
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Protocol": "graphql-ws",
            **headers,
        },
    ).status


def _runs(postgres: Postgres) -> int:
    ((count,),) = postgres.query("select count(*) from runs")
    return count


def test_without_a_login_the_proxy_answers_401_and_nothing_can_be_launched(
    deployed, proxied, postgres
):
    _, proxy = proxied
    runs = _runs(postgres)
    wrong = ("editor", "not-the-password")

    for headers in ({}, _basic(wrong), _basic(VIEWER)):
        for path in ("/", "/assets/sales_overview", "/graphql"):
            assert _request(proxy, proxy.url + path, headers=headers).status == 401, path
        assert _launch(proxy, proxy.url, headers).status == 401
        assert _websocket_upgrade(proxy, proxy.url, headers) == 401
    # The read-only server has its own users: the editor's password is not one of them.
    assert _request(proxy, proxy.viewer_url, headers=_basic(EDITOR)).status == 401
    # Plain HTTP only points to HTTPS, where a password is not sent in the clear.
    redirect = _request(proxy, proxy.plain_url + "/assets", headers=_basic(EDITOR))
    assert redirect.status == 301
    assert redirect.getheader("Location").startswith("https://")
    assert _runs(postgres) == runs


def test_with_a_login_the_ui_loads_and_a_backfill_completes_through_the_proxy(
    chromium, deployed, proxied, postgres
):
    _, proxy = proxied
    # The UI itself, scripts, GraphQL and all, in a browser that logs in.
    user, password = EDITOR
    with ui_page(
        chromium,
        replace(deployed, url=proxy.url),
        "/assets/sales_overview",
        "Materialize",
        http_credentials={"username": user, "password": password},
        ignore_https_errors=True,  # the test's certificate is its own, self-signed
    ):
        pass
    assert _websocket_upgrade(proxy, proxy.url, _basic(EDITOR)) == 101

    through_proxy = replace(deployed, url=proxy.url, headers=_basic(EDITOR), cafile=proxy.cafile)
    deployed.drop_tables(PARTITIONED)
    backfill_id = through_proxy.launch_backfill(PARTITIONED)

    backfill = through_proxy.wait_for_backfill(backfill_id, timeout=TIMEOUT)

    _assert_backfilled_once(deployed, postgres, {**backfill, "id": backfill_id})


def test_the_read_only_webserver_shows_the_code_location_and_refuses_a_launch(proxied, postgres):
    viewer, proxy = proxied
    runs = _runs(postgres)
    through_proxy = replace(
        viewer, url=proxy.viewer_url, headers=_basic(VIEWER), cafile=proxy.cafile
    )

    (location,) = through_proxy.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
    assert (location["name"], location["loadStatus"]) == ("etl_tutorial", "LOADED")
    with pytest.raises(RuntimeError, match="UnauthorizedError"):
        through_proxy.launch_run(UNPARTITIONED)

    assert _runs(postgres) == runs


def _listening(port: int) -> set[str]:
    """The addresses something listens on at TCP `port`, from the kernel's tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                packed = bytes.fromhex(address)
                # Each 32-bit word is in the host's (little-endian) order.
                words = [packed[i : i + 4][::-1] for i in range(0, len(packed), 4)]
                address = ipaddress.ip_address(b"".join(words))
                # An IPv6 socket listening on ::ffff:127.0.0.1 takes IPv4 loopback only.
                found.add(str(getattr(address, "ipv4_mapped", None) or address))
    return found


def test_the_webserver_viewer_and_code_server_listen_on_loopback_only(deployed, proxied):
    for setting in ("DAGSTER_WEBSERVER_PORT", "DAGSTER_VIEWER_PORT", "DAGSTER_CODE_SERVER_PORT"):
        assert _listening(int(deployed.env[setting])) == {"127.0.0.1"}, setting
