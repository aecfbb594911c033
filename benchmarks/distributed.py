"""One side of `make bench`'s comparison past one machine, run in its own profile: everything
materialized and every partition backfilled, through the webserver's GraphQL API as the UI does
it, on a deployment of the code server, webserver and daemon with PostgreSQL storage. `file`:
the single DuckDB file (deploy/dagster.yaml, the default profile). `lake`: DuckLake with its
steps on two Celery workers (deploy/lake/, the lake profile). Prints its timings as JSON.

    python -m benchmarks.distributed file|lake CSV_DIR
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from harness.deployment import deployment
from harness.postgres import postgres_server, server_bin

UNPARTITIONED = ["products", "sales_reps", "sales_data", "joined_data"]
PARTITIONED = ["monthly_sales_performance", "product_performance"]
TIMEOUT = 3600


def _run(server, assets: list[str]) -> None:
    run = server.wait_for_run(server.launch_run(assets), timeout=TIMEOUT)
    if run["status"] != "SUCCESS":
        raise RuntimeError(f"the run of {assets} ended {run['status']}")


def timed(server) -> dict[str, float]:
    """Seconds from each launch to the end of its last run."""
    start = time.monotonic()
    _run(server, UNPARTITIONED)
    loaded = time.monotonic()
    backfill = server.wait_for_backfill(server.launch_backfill(PARTITIONED), timeout=TIMEOUT)
    if backfill["status"] != "COMPLETED_SUCCESS":
        raise RuntimeError(f"the backfill ended {backfill['status']}")
    backfilled = time.monotonic()
    _run(server, ["sales_overview"])
    end = time.monotonic()
    return {
        "load_and_join": loaded - start,
        "backfill": backfilled - loaded,
        "overview": end - backfilled,
        "total": end - start,
    }


def main() -> None:
    mode, csv_dir = sys.argv[1], Path(sys.argv[2])
    # Each side's warehouse is its own: nothing of lake mode leaks in from the environment.
    for name in ("DUCKLAKE_CATALOG", "DUCKLAKE_DATA_PATH", "DAGSTER_CELERY_BROKER"):
        os.environ.pop(name, None)
    bin_dir = server_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL's server programs are not installed (Debian's postgresql)")
    with tempfile.TemporaryDirectory() as tmp, postgres_server(bin_dir) as postgres:
        home = Path(tmp)
        if mode == "file":
            warehouse = {"DUCKDB_DATABASE": str(home / "bench.duckdb")}
            with deployment(home, postgres, warehouse, csv_dir) as server:
                server.stop_sensor("default_automation_condition_sensor")
                result = timed(server)
        elif mode == "lake":
            from harness.distributed import lake_deployment

            with lake_deployment(home, postgres, csv_dir) as deployed:
                result = timed(deployed.server)
        else:
            raise SystemExit(f"{mode}: the modes are file and lake")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
