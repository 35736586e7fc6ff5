"""Throughput and latency of our inference server against Azure ML's ``azmlinfsrv``.

Both serve the same seed-style score.py and Ridge model (sklearn's diabetes data) and get the
same 2-row request from the same load generator (``wrk``, 16 connections, loopback), with 1
and then 2 worker processes. The two servers are measured in alternation, ``--rounds`` times
each, and the round with the median requests/s is reported, which damps the noise of a
shared machine.

    .venv/bin/python bench/bench_inference.py            # about 2 minutes
    .venv/bin/python bench/bench_inference.py --duration 10 --rounds 1

``azmlinfsrv`` runs from its own venv (``--azmlinfsrv-venv``, created on first use with
azureml-inference-server-http and scikit-learn); ours runs with this interpreter. ``wrk``
comes from Debian (``apt-get install -y wrk``; installed when missing and run as root).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from wrk_rounds import Result, ServerSpec, ensure_wrk, measure, prepare, round_arguments

AZMLINFSRV_PACKAGES = [
    "azureml-inference-server-http==1.5.1",
    "scikit-learn==1.9.1",
    "joblib==1.6.0",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    round_arguments(parser)
    parser.add_argument(
        "--azmlinfsrv-venv",
        type=Path,
        default=Path.home() / ".cache" / "modelpack" / "azmlinfsrv-venv",
    )
    args = parser.parse_args()

    wrk = ensure_wrk()
    azmlinfsrv = ensure_azmlinfsrv(args.azmlinfsrv_venv)
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        folder = Path(tmp)
        body = prepare(folder)
        print(f"load average before: {os.getloadavg()[0]:.2f}; cpus: {os.cpu_count()}")
        rows = []
        for workers in args.workers:
            specs = [
                ServerSpec("azmlinfsrv", [str(azmlinfsrv)], "/"),
                ServerSpec("ours", [sys.executable, "-m", "modelpack.inference_server"], "/readyz"),
            ]
            results = measure(specs, workers, folder, body, wrk, args)
            for spec in specs:
                rows.append((spec.name, workers, results[spec.name]))
    print_table(rows)
    return 0


def print_table(rows: list[tuple[str, int, Result]]) -> None:
    print()
    print("| server | workers | requests/s | p50 ms | p99 ms | server CPU µs/request | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, workers, r in rows:
        print(
            f"| {name} | {workers} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.cpu_us_per_request:.0f} | {r.errors} |"
        )
    print()
    by_key = {(name, workers): r for name, workers, r in rows}
    for workers in sorted({w for _, w, _ in rows}):
        theirs, ours = by_key[("azmlinfsrv", workers)], by_key[("ours", workers)]
        speedup = ours.requests_per_s / theirs.requests_per_s
        p99_ratio = ours.p99_ms / theirs.p99_ms
        verdict = "meets" if speedup >= 3 and p99_ratio <= 0.5 else "misses"
        print(
            f"{workers} worker(s): {speedup:.2f}x the requests/s, p99 {p99_ratio:.2f}x "
            f"-> {verdict} the target (>= 3x, <= 0.5x)"
        )


def ensure_azmlinfsrv(venv: Path) -> Path:
    command = venv / "bin" / "azmlinfsrv"
    if command.exists():
        return command
    print(f"creating {venv} with {', '.join(AZMLINFSRV_PACKAGES)} ...")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *AZMLINFSRV_PACKAGES], check=True)
    return command


if __name__ == "__main__":
    sys.exit(main())
