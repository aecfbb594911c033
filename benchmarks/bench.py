"""`make bench`: the pipeline against its plain-DuckDB floor, and backfills as one run per asset
against one run per partition under `dagster dev`, side by side in one run.

    python -m benchmarks.bench [--sizes 1000000 10000000] [--repeat 3] [--backfill-rows 1000000]

Prints markdown tables (medians) and writes them to benchmarks/latest.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from etl_tutorial import sample_data
from harness.dagster_dev import dagster_dev

HERE = Path(__file__).parent
DATA = HERE / ".data"
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
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def sales_csvs(rows: int) -> Path:
    folder = DATA / f"sales_{rows}"
    if not (folder / "sales_data.csv").exists():
        print(f"generating {rows:,} sales rows into {folder}", file=sys.stderr)
        sample_data.generate(folder, rows)
    return folder


def run_workload(workload: str, csv_dir: Path) -> tuple[dict[str, float], int]:
    """Runs one workload in a fresh process; returns its timings and its peak RSS in bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.workloads", workload, str(csv_dir)]
            + [f"{tmp}/bench.duckdb"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{workload} failed with exit code {child.returncode}")
    return json.loads(output.splitlines()[-1]), usage.ru_maxrss * 1024


def pipeline_rows(sizes: list[int], repeat: int) -> list[str]:
    lines = [
        "| sales rows | pipeline in-process (s) | plain DuckDB (s) | ratio "
        "| of which checks (s) | peak RSS pipeline / plain (MiB) | rebuild joined_data (s) "
        "| one month (s) | one month / rebuild |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in sizes:
        csv_dir = sales_csvs(rows)
        samples: dict[str, list[float]] = {}
        for i in range(repeat):
            # Alternate the two, so that a noisy moment on the machine hits both alike.
            for workload in ("pipeline", "floor"):
                timings, peak = run_workload(workload, csv_dir)
                for name, seconds in {**timings, f"{workload}_rss": peak}.items():
                    samples.setdefault(name, []).append(seconds)
                print(f"{rows:,} rows, {workload} #{i + 1}: {timings}", file=sys.stderr)
        m = {name: statistics.median(values) for name, values in samples.items()}
        lines.append(
            f"| {rows:,} | {m['pipeline']:.2f} | {m['floor']:.2f} "
            f"| {m['pipeline'] / m['floor']:.2f}x | {m['checks']:.2f} "
            f"| {m['pipeline_rss'] / MIB:.0f} / {m['floor_rss'] / MIB:.0f} "
            f"| {m['joined_data_step']:.2f} | {m['one_month_step']:.3f} "
            f"| {m['one_month_step'] / m['joined_data_step']:.1%} |"
        )
    return lines


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


def backfill_once(module: str | None, csv_dir: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        with dagster_dev(home, home / "bench.duckdb", csv_dir, module=module) as server:
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
    if backfill["status"] != "COMPLETED_SUCCESS":
        raise RuntimeError(f"backfill ended {backfill['status']}")
    return {
        "runs": len(backfill["runs"]),
        "wall": wall,
        "run_cpu": runs_after - runs_before,
        "all_cpu": total_after - total_before,
    }


def backfill_rows(rows: int, repeat: int) -> list[str]:
    csv_dir = sales_csvs(rows)
    samples: dict[str, dict[str, list[float]]] = {mode: {} for mode in BACKFILL_MODES}
    for i in range(repeat):
        for mode, module in BACKFILL_MODES.items():
            result = backfill_once(module, csv_dir)
            print(f"backfill, {mode} #{i + 1}: {result}", file=sys.stderr)
            for name, value in result.items():
                samples[mode].setdefault(name, []).append(value)
    m = {
        mode: {name: statistics.median(values) for name, values in by_name.items()}
        for mode, by_name in samples.items()
    }
    ours, theirs = (m[mode] for mode in BACKFILL_MODES)
    lines = [
        f"Backfill of every partition of both partitioned assets, {rows:,} sales rows, "
        "under `dagster dev`, from launch to the end of the last run "
        f"(medians of {repeat}):",
        "",
        "| backfill | runs | wall (s) | CPU of run processes (s) | CPU of all dagster dev (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for mode, r in m.items():
        lines.append(
            f"| {mode} | {r['runs']:.0f} | {r['wall']:.1f} | {r['run_cpu']:.1f} "
            f"| {r['all_cpu']:.1f} |"
        )
    lines.append(
        "| ratio, one run per partition / one run per asset | "
        f"| {theirs['wall'] / ours['wall']:.1f}x "
        f"| {theirs['run_cpu'] / ours['run_cpu']:.1f}x "
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, medians reported")
    parser.add_argument("--backfill-rows", type=int, default=1_000_000)
    parser.add_argument("--backfill-repeat", type=int, default=1)
    parser.add_argument("--executor-repeat", type=int, default=5)
    parser.add_argument("--skip-backfill", action="store_true", help="skip dagster dev runs")
    args = parser.parse_args()

    lines = [f"Machine: {machine()}. Medians of {args.repeat} runs.", ""]
    lines += pipeline_rows(args.sizes, args.repeat)
    if not args.skip_backfill:
        lines += [""] + executor_rows(args.backfill_rows, args.executor_repeat)
        lines += [""] + backfill_rows(args.backfill_rows, args.backfill_repeat)
    report = "\n".join(lines) + "\n"
    (HERE / "latest.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
