"""`make bench`: this project's pipeline against its plain-DuckDB floor at each size; under
`dagster dev`, its executor against Dagster's default and its backfills (one run per asset)
against one run per partition, beside the floor that Dagster's daemons set. One run, side by side.

    python -m benchmarks.bench [--sizes 1000000 10000000] [--repeat 3] [--backfill-rows 1000000]
        [--dequeue-intervals 5 1]

Prints markdown tables (medians) and writes them to benchmarks/results.md, which is committed
(benchmarks/README.md explains them). Its first line names the arguments and the date of the
run; the file is only ever written here, never edited by hand.
"""

import argparse
import itertools
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

# The backfill daemon's interval: a constant of Dagster's (dagster/_daemon/controller.py:39),
# which execute_backfill_iteration_loop sleeps between evaluations (_daemon/backfill.py:110).
# No dagster.yaml setting changes it in 1.13; imported so the floor follows the installed Dagster.
from dagster._daemon.controller import DEFAULT_DAEMON_INTERVAL_SECONDS as BACKFILL_DAEMON_INTERVAL

from etl_tutorial import sample_data
from etl_tutorial.paths import PROJECT_DIR
from harness.dagster_dev import dagster_dev
from harness.postgres import server_bin

HERE = Path(__file__).parent
DATA = HERE / ".data"
RESULTS = HERE / "results.md"
# The largest size measured: 100M rows are about 5.7 GB of CSV (see benchmarks/README.md).
MAX_ROWS = 100_000_000
MILLION = 1_000_000
UNPARTITIONED = ["products", "sales_reps", "sales_data", "joined_data"]
PARTITIONED = ["monthly_sales_performance", "product_performance"]
BACKFILL_MODES = {
    "one run per asset: this project's code, its `duckdb` pool and its `in_process_executor`": (
        None
    ),
    "one run per partition: this project's code, its `duckdb` pool and Dagster's default "
    "multiprocess executor": "benchmarks.per_partition_definitions",
}
EXECUTOR_MODES = {
    "one process per step: this project's code and `duckdb` pool on Dagster's default "
    "multiprocess executor": "benchmarks.multiprocess_definitions",
    "every step in the run's own process: this project's code and `duckdb` pool on its "
    "`in_process_executor`": None,
}
# Dagster's default for run_queue's dequeue_interval_seconds
# (dagster/_core/run_coordinator/queued_run_coordinator.py:122).
DEFAULT_DEQUEUE_INTERVAL = 5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def sales_csvs(rows: int) -> Path:
    """The CSVs of `rows` sales rows, generated once and kept in benchmarks/.data/.

    They are generated into a temporary folder and renamed into place only when complete: a
    generation killed midway leaves a partial folder that the next one replaces, never a
    half-written file that a later run takes for the data."""
    folder = DATA / f"sales_{rows}"
    if folder.exists():
        return folder
    partial = DATA / f".sales_{rows}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"generating {rows:,} sales rows into {folder}", file=sys.stderr)
    start = time.monotonic()
    sample_data.generate(partial, rows)
    partial.rename(folder)
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(
        f"generated {rows:,} sales rows in {time.monotonic() - start:.0f} s, {size / MIB:,.0f} MiB",
        file=sys.stderr,
    )
    return folder


def run_workload(workload: str, csv_dir: Path, database: Path) -> tuple[dict[str, float], int]:
    """Runs one workload in a fresh process, writing `database`; returns its timings and its
    peak RSS in bytes. Its log goes beside the database, and its end into the error if it fails."""
    log = database.with_suffix(".log")
    with log.open("w") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.workloads", workload, str(csv_dir), str(database)],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(
            f"{workload} failed with exit code {child.returncode}:\n{log.read_text()[-3000:]}"
        )
    return json.loads(output.splitlines()[-1]), usage.ru_maxrss * 1024


def pipeline_tables(sizes: list[int], repeat: int) -> list[str]:
    """Per size: the pipeline against its plain-DuckDB floor, and where the pipeline's time goes."""
    scale = [
        "The pipeline against its plain-DuckDB floor, each in a fresh process "
        f"(medians of {repeat}). Pipeline: this project's code, every asset and blocking "
        "check, in-process with `dg.materialize`, each partitioned asset as one run of all its "
        "partitions. Floor: the same SQL straight into DuckDB, no Dagster, no checks, no staged "
        "writes.",
        "",
        "| sales rows | pipeline (s) | plain-DuckDB floor (s) | pipeline / floor "
        "| pipeline peak RSS (MiB) | floor peak RSS (MiB) "
        "| pipeline (s per million rows) | floor (s per million rows) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    parts = [
        "Where the pipeline's time goes, in the same runs: its blocking checks run again on the "
        "published tables, and the step times of a rebuild of `joined_data` and of one monthly "
        "partition of `monthly_sales_performance`.",
        "",
        "| sales rows | blocking checks (s) | rebuild joined_data (s) | one month (s) "
        "| one month / rebuild |",
        "|---:|---:|---:|---:|---:|",
    ]
    for rows in sizes:
        csv_dir = sales_csvs(rows)
        samples: dict[str, list[float]] = {}
        for i in range(repeat):
            # Alternate the two, so that a noisy moment on the machine hits both alike.
            for workload in ("pipeline", "floor"):
                with tempfile.TemporaryDirectory() as tmp:
                    timings, peak = run_workload(workload, csv_dir, Path(tmp) / "bench.duckdb")
                for name, seconds in {**timings, f"{workload}_rss": peak}.items():
                    samples.setdefault(name, []).append(seconds)
                print(f"{rows:,} rows, {workload} #{i + 1}: {timings}", file=sys.stderr)
        m = {name: statistics.median(values) for name, values in samples.items()}
        millions = rows / MILLION
        scale.append(
            f"| {rows:,} | {m['pipeline']:.2f} | {m['floor']:.2f} "
            f"| {m['pipeline'] / m['floor']:.2f}x "
            f"| {m['pipeline_rss'] / MIB:,.0f} | {m['floor_rss'] / MIB:,.0f} "
            f"| {m['pipeline'] / millions:.2f} | {m['floor'] / millions:.2f} |"
        )
        parts.append(
            f"| {rows:,} | {m['checks']:.2f} | {m['joined_data_step']:.2f} "
            f"| {m['one_month_step']:.3f} | {m['one_month_step'] / m['joined_data_step']:.1%} |"
        )
    return scale + [""] + parts


def _cpu_seconds(pid: int, children_only: bool = False) -> float:
    """User and system CPU of a process, plus that of its children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ((0 if children_only else utime + stime) + cutime + cstime) / CLOCK_TICKS


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, session id, command line) for every live process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), int(fields[3]), cmdline)
    return found


def cpu_of(dev_pid: int) -> tuple[float, float]:
    """(CPU of run processes, CPU of everything `dagster dev` started), in seconds so far.

    Runs are child processes of the code location's gRPC server; once they exit and are
    reaped their CPU is in that server's children's time."""
    processes = _processes()
    session = [pid for pid, (_, sid, _) in processes.items() if sid == dev_pid]
    (grpc,) = [pid for pid in session if " api grpc " in processes[pid][2]]
    runs = _cpu_seconds(grpc, children_only=True)
    frontier = [grpc]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, _) in processes.items():
            if ppid == parent:
                runs += _cpu_seconds(pid)
                frontier.append(pid)
    return runs, sum(_cpu_seconds(pid) for pid in session)


def daemon_floor(runs: int, dequeue_interval: float, runs_per_dequeue: int | None) -> float:
    """The least wall time Dagster's daemons allow a backfill of `runs` runs, from its launch to
    its completion, were every run to take no time at all: waiting, not work.

    B is the backfill daemon's interval (30 s), D the run queue's (run_queue's
    dequeue_interval_seconds, 5 s by default), k the runs of the `duckdb` pool that one wake
    of the queue can launch. R runs take at least
        floor = B * (floor(D * (ceil(R / k) - 1) / B) + 1)
    - The backfill daemon's first evaluation after the launch submits every run to the queue:
      both assets' partitions are roots of the backfill, requested at once
      (dagster/_core/execution/asset_backfill.py:1611). The backfill is marked complete only
      by an evaluation that finds every run finished (asset_backfill.py:1146-1157), a later
      one; evaluations start B apart (_daemon/backfill.py:110).
    - The queue wakes every D s (_daemon/controller.py:363-364). Every run's first step is in
      the `duckdb` pool, so a run is held while the pool's slots are taken by runs launched
      in the same wake or still starting (_core/op_concurrency_limits_counter.py:162-182,
      204-233, 285): one wake launches at most k = the pool's limit (1 here) plus its
      op_granularity_run_buffer of them. The last of R runs leaves the queue no sooner than
      D * (ceil(R / k) - 1) after the first.
    - The backfill ends at the first evaluation after that.
    The first evaluation itself comes 0 to B s after the launch (B / 2 on average); the floor
    counts it as 0, so it is a lower bound.
    """
    waves = math.ceil(runs / runs_per_dequeue) if runs_per_dequeue else 1
    last_dequeue = dequeue_interval * (waves - 1)
    return BACKFILL_DAEMON_INTERVAL * (math.floor(last_dequeue / BACKFILL_DAEMON_INTERVAL) + 1)


def run_queue_cadence(home: Path) -> tuple[int, int | None]:
    """(seconds between the run queue's wakes, runs of the `duckdb` pool one wake can launch,
    None for no limit), as the Dagster instance in `home` reads its dagster.yaml."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        pools = instance.get_concurrency_config().pool_config
        per_wake = pools.default_pool_limit
        if per_wake is not None:
            per_wake += pools.op_granularity_run_buffer or 0
        return instance.run_coordinator.dequeue_interval_seconds, per_wake


def backfill_once(module: str | None, csv_dir: Path, dequeue_interval: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = {"run_queue": {"dequeue_interval_seconds": dequeue_interval}}
        with dagster_dev(
            home, home / "bench.duckdb", csv_dir, module=module, instance_settings=settings
        ) as server:
            if module is None:
                # Automation would refresh partitions on its own and add runs to the
                # measurement; the per-partition location leaves Dagster's default sensor off.
                server.stop_sensor("default_automation_condition_sensor")
            server.materialize(UNPARTITIONED)
            runs_before, total_before = cpu_of(server.process.pid)
            start = time.monotonic()
            backfill = server.wait_for_backfill(server.launch_backfill(PARTITIONED), timeout=1800)
            wall = time.monotonic() - start
            runs_after, total_after = cpu_of(server.process.pid)
            interval, per_wake = run_queue_cadence(home)
    if backfill["status"] != "COMPLETED_SUCCESS":
        raise RuntimeError(f"backfill ended {backfill['status']}")
    if interval != dequeue_interval:
        raise RuntimeError(f"the run queue woke every {interval} s, not {dequeue_interval} s")
    runs = len(backfill["runs"])
    return {
        "runs": runs,
        "wall": wall,
        "floor": daemon_floor(runs, interval, per_wake),
        "run_cpu": runs_after - runs_before,
        "all_cpu": total_after - total_before,
    }


def backfill_rows(rows: int, repeat: int, dequeue_intervals: list[int]) -> list[str]:
    csv_dir = sales_csvs(rows)
    variants = [(interval, mode) for interval in dequeue_intervals for mode in BACKFILL_MODES]
    samples: dict[tuple[int, str], dict[str, list[float]]] = {v: {} for v in variants}
    for i in range(repeat):
        for interval, mode in variants:
            result = backfill_once(BACKFILL_MODES[mode], csv_dir, interval)
            print(
                f"backfill, {mode}, run queue every {interval} s #{i + 1}: {result}",
                file=sys.stderr,
            )
            for name, value in result.items():
                samples[interval, mode].setdefault(name, []).append(value)
    m = {
        variant: {name: statistics.median(values) for name, values in by_name.items()}
        for variant, by_name in samples.items()
    }
    lines = [
        f"Backfill of every partition of both partitioned assets, {rows:,} sales rows, "
        "under `dagster dev`, from launch to the end of the last run "
        f"(medians of {repeat}). The daemon floor is the least wall time Dagster's daemons "
        f"allow with runs that take no time: the backfill daemon wakes every "
        f"{BACKFILL_DAEMON_INTERVAL} s, the run queue as given (`run_queue: "
        "dequeue_interval_seconds` in the instance's dagster.yaml; "
        f"{DEFAULT_DEQUEUE_INTERVAL} s is Dagster's default) and launches one run of the "
        "`duckdb` pool per wake (`daemon_floor` in benchmarks/bench.py).",
        "",
        "| backfill | run queue wakes every (s) | runs | wall (s) | daemon floor (s) "
        "| wall above the floor (s) | CPU of run processes (s) | CPU of all dagster dev (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for interval in dequeue_intervals:
        ours, theirs = (m[interval, mode] for mode in BACKFILL_MODES)
        for mode in BACKFILL_MODES:
            r = m[interval, mode]
            lines.append(
                f"| {mode} | {interval} | {r['runs']:.0f} | {r['wall']:.1f} | {r['floor']:.0f} "
                f"| {r['wall'] - r['floor']:.1f} | {r['run_cpu']:.1f} | {r['all_cpu']:.1f} |"
            )
        lines.append(
            f"| ratio, one run per partition / one run per asset | {interval} | "
            f"| {theirs['wall'] / ours['wall']:.1f}x | {theirs['floor'] / ours['floor']:.1f}x "
            f"| | {theirs['run_cpu'] / ours['run_cpu']:.1f}x "
            f"| {theirs['all_cpu'] / ours['all_cpu']:.1f}x |"
        )
    return lines


def executor_rows(rows: int, repeat: int) -> list[str]:
    """ "Materialize selected" of the unpartitioned assets and their checks under `dagster dev`,
    with each executor: the run's duration and the CPU of its processes."""
    csv_dir = sales_csvs(rows)
    m = {}
    for mode, module in EXECUTOR_MODES.items():
        samples: dict[str, list[float]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            with dagster_dev(home, home / "bench.duckdb", csv_dir, module=module) as server:
                if module is None:
                    server.stop_sensor("default_automation_condition_sensor")
                for i in range(repeat):
                    runs_before, _ = cpu_of(server.process.pid)
                    run = server.wait_for_run(server.launch_run(UNPARTITIONED), timeout=600)
                    runs_after, _ = cpu_of(server.process.pid)
                    if run["status"] != "SUCCESS":
                        raise RuntimeError(f"{mode}: run ended {run['status']}")
                    result = {
                        "duration": run["endTime"] - run["startTime"],
                        "run_cpu": runs_after - runs_before,
                    }
                    print(f"executor, {mode} #{i + 1}: {result}", file=sys.stderr)
                    for name, value in result.items():
                        samples.setdefault(name, []).append(value)
        m[mode] = {name: statistics.median(values) for name, values in samples.items()}
    default, ours = (m[mode] for mode in EXECUTOR_MODES)
    lines = [
        f"Materialize the four unpartitioned assets and their checks, {rows:,} sales rows, one "
        f"run under `dagster dev`, from its start to its end (medians of {repeat}):",
        "",
        "| steps run | run duration (s) | CPU of run processes (s) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {mode} | {r['duration']:.2f} | {r['run_cpu']:.1f} |" for mode, r in m.items()]
    lines.append(
        "| ratio, one process per step / every step in the run's process "
        f"| {default['duration'] / ours['duration']:.1f}x "
        f"| {default['run_cpu'] / ours['run_cpu']:.1f}x |"
    )
    return lines


FLOW_RUNS = """
query FlowRuns($after: Float) {
  runsOrError(filter: {createdAfter: $after}) {
    ... on Runs { results {
      status creationTime startTime endTime assetSelection { path } tags { key value }
    } }
  }
}
"""
LAST_OBSERVATION = """
query LastObservation($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) { ... on Asset { assetObservations(limit: 1) { timestamp } } }
}
"""
BACKFILL_CREATED = """
query BackfillCreated($id: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { timestamp } }
}
"""
# The hops of an appended sale's way, each from the end of the one before, in this order.
HOPS = {
    "observed": "the observation sensor records the file's new version",
    "ingestion requested": "automation requests sales_data and joined_data",
    "ingestion run": "their run: queue, process start, work",
    "partitions requested": "automation requests every partition (a backfill)",
    "backfill daemon": "the backfill daemon submits its two runs",
    "partition runs": "both runs: queue, process start, work",
    "overview requested": "the backfill is marked complete, automation requests the overview",
    "overview run": "its run",
}


def _selected(run: dict) -> set[str]:
    return {key["path"][-1] for key in run["assetSelection"] or []}


def _flow_runs(server, after: float, timeout: float = 600) -> dict[str, list[dict]]:
    """Once the overview's run after `after` has ended: the runs since `after` by what they
    built (ingestion, partitions, overview)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = server.graphql(FLOW_RUNS, {"after": after})["runsOrError"]["results"]
        steps = {
            "ingestion": [r for r in runs if "joined_data" in _selected(r)],
            "partitions": [r for r in runs if _selected(r) & set(PARTITIONED)],
            "overview": [r for r in runs if "sales_overview" in _selected(r)],
        }
        if steps["overview"] and all(r["endTime"] for rs in steps.values() for r in rs):
            if any(r["status"] != "SUCCESS" for rs in steps.values() for r in rs):
                raise RuntimeError(f"a run failed: {runs}")
            return steps
        time.sleep(0.5)
    raise TimeoutError(f"no overview {timeout:.0f} s after {after}")


def sale_hops(server, written: float) -> dict[str, float]:
    """Each hop's seconds for a sale appended at `written` (a Unix time), from the instance's
    records: the observation, the runs and the backfill, with the times Dagster gave them."""
    steps = _flow_runs(server, written)
    (ingestion,) = steps["ingestion"]
    (overview,) = steps["overview"]
    partitions = steps["partitions"]
    (backfill_id,) = {
        t["value"] for r in partitions for t in r["tags"] if t["key"] == "dagster/backfill"
    }
    backfill = server.graphql(BACKFILL_CREATED, {"id": backfill_id})["partitionBackfillOrError"]
    observations = server.graphql(LAST_OBSERVATION, {"key": {"path": ["sales_data_csv"]}})
    observed = int(observations["assetOrError"]["assetObservations"][0]["timestamp"]) / 1000
    times = [
        written,
        observed,
        ingestion["creationTime"],
        ingestion["endTime"],
        backfill["timestamp"],
        min(r["creationTime"] for r in partitions),
        max(r["endTime"] for r in partitions),
        overview["creationTime"],
        overview["endTime"],
    ]
    hops = {hop: b - a for hop, (a, b) in zip(HOPS, itertools.pairwise(times), strict=True)}
    return {
        **hops,
        "both analysis tables": times[6] - written,
        "overview": times[8] - written,
    }


def _append_sale(csv_dir: Path, order_id: int) -> float:
    """Appends a sale of the first product by the first rep; returns when it was written."""
    first = {
        table: (csv_dir / f"{table}.csv").read_text().splitlines()[1].split(",")[0]
        for table in ("products", "sales_reps")
    }
    with (csv_dir / "sales_data.csv").open("a") as f:
        f.write(f"{order_id},2024-05-10,{first['products']},{first['sales_reps']},Walk-in,1,9.90\n")
    return time.time()


def flow_once(dequeue_interval: int, repeat: int, idle: float) -> list[dict[str, float]]:
    """Under `dagster dev` with make dev's instance (the run queue's interval as given), on the
    sample CSVs: the first build, idle CPU, then `repeat` appended sales one after another."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        csv_dir = sample_data.generate(home / "csv")
        settings = {"run_queue": {"dequeue_interval_seconds": dequeue_interval}}
        started = time.time()
        with dagster_dev(
            home, home / "bench.duckdb", csv_dir, instance_settings=settings
        ) as server:
            built = _flow_runs(server, started)["overview"][0]["endTime"] - started
            time.sleep(10)  # the backfill daemon's and the sensors' last passes over the build
            _, cpu_before = cpu_of(server.process.pid)
            time.sleep(idle)
            _, cpu_after = cpu_of(server.process.pid)
            results = [
                {"first build": built, "idle CPU per minute": (cpu_after - cpu_before) * 60 / idle}
            ]
            for i in range(repeat):
                hops = sale_hops(server, _append_sale(csv_dir, 900_000 + i))
                print(
                    f"sale, run queue every {dequeue_interval} s #{i + 1}: {hops}", file=sys.stderr
                )
                results.append(hops)
    return results


def flow_rows(repeat: int, dequeue_intervals: list[int], idle: float) -> list[str]:
    m = {}
    for interval in dequeue_intervals:
        start, *sales = flow_once(interval, repeat, idle)
        print(f"flow, run queue every {interval} s: {start}", file=sys.stderr)
        m[interval] = {
            **start,
            **{name: statistics.median(s[name] for s in sales) for name in sales[0]},
            "range": (
                min(s["both analysis tables"] for s in sales),
                max(s["both analysis tables"] for s in sales),
            ),
        }
    lines = [
        f"New data under `dagster dev` with `make dev`'s instance (`.dagster/dagster.yaml`, its "
        f"run queue as given), on the sample CSVs. From `dagster dev`'s start to the overview "
        f"built from nothing; the CPU all its processes use in {idle:.0f} s of idleness "
        f"afterwards, per minute; then {repeat} sales appended one after another, each hop "
        "from the end of the one before (medians), from the times Dagster records for the "
        "observation, runs and backfill.",
        "",
        "| | " + " | ".join(f"run queue every {i} s" for i in dequeue_intervals) + " |",
        "|---|" + "---:|" * len(dequeue_intervals),
        "| first build, from `dagster dev`'s start (s) | "
        + " | ".join(f"{m[i]['first build']:.0f}" for i in dequeue_intervals)
        + " |",
        "| idle CPU, all of `dagster dev` (s per minute) | "
        + " | ".join(f"{m[i]['idle CPU per minute']:.1f}" for i in dequeue_intervals)
        + " |",
    ]
    for hop, what in HOPS.items():
        lines.append(
            f"| {hop}: {what} (s) | "
            + " | ".join(f"{m[i][hop]:.1f}" for i in dequeue_intervals)
            + " |"
        )
    lines += [
        "| **sale to both analysis tables** (s): median (fastest to slowest) | "
        + " | ".join(
            f"**{m[i]['both analysis tables']:.0f}** "
            f"({m[i]['range'][0]:.0f} to {m[i]['range'][1]:.0f})"
            for i in dequeue_intervals
        )
        + " |",
        "| sale to the overview (s) | "
        + " | ".join(f"{m[i]['overview']:.0f}" for i in dequeue_intervals)
        + " |",
    ]
    return lines


# Each side of the comparison past one machine in its own profile (benchmarks/distributed.py).
DISTRIBUTED_MODES = {
    "one DuckDB file: the default profile, its pool of one, every step in the run's process": (
        "file",
        Path(sys.executable),
    ),
    "lake mode: DuckLake over PostgreSQL, a pool of three, steps on two Celery workers": (
        "lake",
        PROJECT_DIR / ".venv-lake" / "bin" / "python",
    ),
}
PHASES = {
    "load_and_join": "load the CSVs and join them: one run",
    "backfill": "backfill every partition of both partitioned assets: two runs",
    "overview": "the overview: one run",
    "total": "**everything**",
}


def distributed_once(mode: str, python: Path, csv_dir: Path, log: Path) -> dict[str, float]:
    with log.open("w") as log_file:
        done = subprocess.run(
            [str(python), "-m", "benchmarks.distributed", mode, str(csv_dir)],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{log.read_text()[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def distributed_rows(rows: int, repeat: int) -> list[str]:
    """Everything built on a deployment, the single DuckDB file against lake mode on two
    Celery workers, alternating, from each launch to the end of its last run."""
    csv_dir = sales_csvs(rows)
    samples: dict[str, dict[str, list[float]]] = {mode: {} for mode in DISTRIBUTED_MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for name, (mode, python) in DISTRIBUTED_MODES.items():
                result = distributed_once(mode, python, csv_dir, Path(tmp) / f"{mode}.log")
                print(f"distributed, {mode} #{i + 1}: {result}", file=sys.stderr)
                for phase, seconds in result.items():
                    samples[name].setdefault(phase, []).append(seconds)
    m = {
        name: {phase: statistics.median(values) for phase, values in by_phase.items()}
        for name, by_phase in samples.items()
    }
    file, lake = (m[name] for name in DISTRIBUTED_MODES)
    lines = [
        f"Past one machine: everything built, {rows:,} sales rows, on a deployment of the code "
        "server, webserver and daemon with PostgreSQL storage (deploy/), launched through the "
        "webserver's GraphQL API as the UI does, from each launch to the end of its last run "
        f"(medians of {repeat}, the two alternating). All on this one machine: the two Celery "
        "workers share its cores with everything else.",
        "",
        "| seconds | " + " | ".join(DISTRIBUTED_MODES) + " | lake / file |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {label} | {file[phase]:.1f} | {lake[phase]:.1f} | {lake[phase] / file[phase]:.2f}x |"
        for phase, label in PHASES.items()
    ]
    return lines


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} cores ({model}), {memory_kib / 1024 / 1024:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def sales_rows(text: str) -> int:
    rows = int(text)
    if not 1 <= rows <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"{rows:,}: sizes go from 1 to {MAX_ROWS:,} sales rows")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=sales_rows,
        nargs="+",
        default=[1_000_000, 10_000_000],
        help=f"sales rows, up to {MAX_ROWS:,}; each size's CSVs are generated once",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, medians reported")
    parser.add_argument("--backfill-rows", type=sales_rows, default=1_000_000)
    parser.add_argument("--backfill-repeat", type=int, default=1)
    parser.add_argument(
        "--dequeue-intervals",
        type=int,
        nargs="+",
        default=[DEFAULT_DEQUEUE_INTERVAL, 1],
        help="run queue intervals (s) to backfill and time the new-data flow with, each "
        "written into the instance's dagster.yaml as run_queue: dequeue_interval_seconds",
    )
    parser.add_argument("--executor-repeat", type=int, default=5)
    parser.add_argument("--skip-executor", action="store_true", help="skip the executor runs")
    parser.add_argument("--skip-backfill", action="store_true", help="skip dagster dev runs")
    parser.add_argument("--flow-repeat", type=int, default=5, help="sales appended, one by one")
    parser.add_argument("--flow-idle", type=float, default=60, help="seconds of idle CPU measured")
    parser.add_argument("--skip-flow", action="store_true", help="skip the new-data flow")
    parser.add_argument("--distributed-rows", type=sales_rows, default=1_000_000)
    parser.add_argument("--distributed-repeat", type=int, default=3)
    parser.add_argument(
        "--skip-distributed", action="store_true", help="skip the file / lake mode comparison"
    )
    args = parser.parse_args()

    if not args.skip_distributed:
        # Checked before hours of measurement, not after: the comparison past one machine
        # starts PostgreSQL and Redis servers.
        servers = {"postgresql": server_bin(), "redis-server": shutil.which("redis-server")}
        missing = [package for package, found in servers.items() if found is None]
        if missing:
            parser.error(
                f"the comparison past one machine needs Debian's {' and '.join(missing)}: "
                "install them (.ci/run does), or pass --skip-distributed"
            )
    command = shlex.join(["python", "-m", "benchmarks.bench", *sys.argv[1:]])
    lines = [
        f"Generated by `make bench` (`{command}`) on {time.strftime('%Y-%m-%d')}; "
        "never edited by hand: the next run replaces this file.",
        "",
        f"Machine: {machine()}.",
        "",
    ]
    lines += pipeline_tables(args.sizes, args.repeat)
    if not args.skip_backfill:
        if not args.skip_executor:
            lines += [""] + executor_rows(args.backfill_rows, args.executor_repeat)
        lines += [""] + backfill_rows(
            args.backfill_rows, args.backfill_repeat, args.dequeue_intervals
        )
    if not args.skip_flow:
        lines += [""] + flow_rows(args.flow_repeat, args.dequeue_intervals, args.flow_idle)
    if not args.skip_distributed:
        lines += [""] + distributed_rows(args.distributed_rows, args.distributed_repeat)
    report = "\n".join(lines) + "\n"
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
