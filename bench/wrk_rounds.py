"""What the inference benchmarks share: the served model, ``wrk`` runs against servers
started side by side, measured in alternation, and the round with the median requests/s.

Each server is a command that takes azmlinfsrv's flags (``--entry_script``, ``--port``,
``--worker_count``) and serves the seed's score.py (``tests/support/seed_score.py``) with a
Ridge model on sklearn's diabetes data; every request is the same 2-row POST ``/score`` from
``wrk`` (16 connections, loopback). Besides requests/s and latency, each round records the
CPU time of the server's process tree per request answered: it moves much less than
requests/s when other work shares the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from argparse import ArgumentParser, Namespace
from dataclasses import dataclass, field
from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

REPO = Path(__file__).resolve().parents[1]
CONNECTIONS = 16

SCORE_PY = (REPO / "tests" / "support" / "seed_score.py").read_text()  # as the tests serve

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BENCH_BODY"), "r")
wrk.body = f:read("*a")
f:close()
"""


@dataclass
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us_per_request: float = 0.0
    main_cpu_us_per_request: float = 0.0
    """The part of ``cpu_us_per_request`` spent on the server's main threads (event loops)."""


@dataclass
class ServerSpec:
    name: str
    command: list[str]
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    script: str | None = "score.py"
    """The entry script in the benchmark's folder; None serves the MLflow model there."""


def round_arguments(parser: ArgumentParser, rounds: int = 5, threads: int = 1) -> None:
    """The flags every wrk benchmark takes: what `measure` reads of its `args`, and workers."""
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=rounds, help="wrk runs per server and case")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=threads, help="wrk threads")


def prepare(folder: Path) -> Path:
    """The model, score.py and wrk script in ``folder``; returns the request body's file."""
    (folder / "model" / "model").mkdir(parents=True)
    features, target = load_diabetes(return_X_y=True)
    joblib.dump(Ridge().fit(features, target), folder / "model/model/sklearn_regression_model.pkl")
    (folder / "score.py").write_text(SCORE_PY)
    (folder / "post.lua").write_text(WRK_SCRIPT)
    body = folder / "request.json"
    body.write_text(json.dumps({"data": features[:2].tolist()}))
    return body


def measure(
    specs: list[ServerSpec],
    workers: int,
    folder: Path,
    body: Path,
    wrk: str,
    args: Namespace,
    connections: int = CONNECTIONS,
) -> dict[str, Result]:
    """Start every server, then load each in turn ``args.rounds`` times; the median rounds.

    ``args`` has ``rounds``, ``duration`` (seconds per wrk run) and ``threads`` (wrk's)."""
    servers = {spec.name: start(spec, workers, folder) for spec in specs}
    try:
        for spec in specs:
            port, _ = servers[spec.name]
            wait_ready(port, spec.ready_path)
            run_wrk(wrk, port, folder, body, 2, args.threads, connections)  # warm-up
        runs: dict[str, list[Result]] = {spec.name: [] for spec in specs}
        for _ in range(args.rounds):
            for spec in specs:
                port, process = servers[spec.name]
                total_before, main_before = tree_cpu_seconds(process.pid)
                result = run_wrk(wrk, port, folder, body, args.duration, args.threads, connections)
                requests = result.requests_per_s * args.duration
                total_after, main_after = tree_cpu_seconds(process.pid)
                if requests:
                    result.cpu_us_per_request = (total_after - total_before) / requests * 1e6
                    result.main_cpu_us_per_request = (main_after - main_before) / requests * 1e6
                runs[spec.name].append(result)
        for name, results in runs.items():
            rates = ", ".join(f"{r.requests_per_s:.0f}" for r in results)
            print(f"{name:>10} workers={workers}: requests/s per round: {rates}")
        print(f"load average: {os.getloadavg()[0]:.2f}")
        return {name: median_run(results) for name, results in runs.items()}
    finally:
        for _, process in servers.values():
            stop(process)


def print_comparison(rows: list[tuple[str, int, Result]], reference: str, label: str) -> None:
    """A markdown table of the rows (name, workers, result), each against the ``reference``
    row of its worker count."""
    print()
    print(
        f"| {label} | workers | requests/s | vs {reference} | p50 ms | p99 ms | CPU µs/request "
        "| errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    base = {workers: r for name, workers, r in rows if name == reference}
    for name, workers, r in rows:
        ratio = r.requests_per_s / base[workers].requests_per_s
        print(
            f"| {name} | {workers} | {r.requests_per_s:,.0f} | {ratio:.2f}x | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.cpu_us_per_request:.0f} | {r.errors} |"
        )


def tree_cpu_seconds(root: int) -> tuple[float, float]:
    """CPU time (user + system) used so far by ``root`` and its descendants, from /proc:
    (all their threads, their main threads only). A server's main threads run its event
    loops; the others, its run threads and helpers."""
    parents: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat_fields(f"/proc/{entry}/stat")
        if stat is not None:
            parents[int(entry)] = int(stat[1])
            cpu[int(entry)] = int(stat[11]) + int(stat[12])
    total = main = 0
    pending = [root]
    while pending:
        pid = pending.pop()
        total += cpu.get(pid, 0)
        thread = _stat_fields(f"/proc/{pid}/task/{pid}/stat")
        if thread is not None:
            main += int(thread[11]) + int(thread[12])
        pending += [child for child, parent in parents.items() if parent == pid]
    ticks = os.sysconf("SC_CLK_TCK")
    return total / ticks, main / ticks


def _stat_fields(path: str) -> list[str] | None:
    """The fields of a /proc stat file after the command name (state first), or None."""
    try:
        with open(path) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def start(spec: ServerSpec, workers: int, folder: Path) -> tuple[int, subprocess.Popen]:
    port = free_port()
    env = {
        **os.environ,
        "AZUREML_MODEL_DIR": str(folder / "model"),
        "PYTHONPATH": str(REPO),
        "WORKER_COUNT": str(workers),
        **spec.env,
    }
    log = open(folder / f"{spec.name}-{workers}.log", "wb")  # noqa: SIM115
    command = [*spec.command, "--port", str(port), "--worker_count", str(workers)]
    if spec.script is not None:
        command += ["--entry_script", str(folder / spec.script)]
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    return port, process


def wait_ready(port: int, path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} not ready after {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_wrk(
    wrk: str,
    port: int,
    folder: Path,
    body: Path,
    seconds: int,
    threads: int,
    connections: int = CONNECTIONS,
) -> Result:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(folder / "post.lua"), f"http://127.0.0.1:{port}/score"]
    env = {**os.environ, "BENCH_BODY": str(body)}
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> Result:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    if not (rate and p50 and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Result(float(rate.group(1)), to_ms(*p50.groups()), to_ms(*p99.groups()), errors)


def to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def median_run(results: list[Result]) -> Result:
    middle = statistics.median_low([r.requests_per_s for r in results])
    return next(r for r in results if r.requests_per_s == middle)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk with apt-get ...")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("wrk is needed: install it with `apt-get install -y wrk` (Debian/Ubuntu)")
    return wrk
