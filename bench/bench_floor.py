"""How close the inference server comes to the floor: a bare ASGI app on the same uvicorn
configuration that parses the same JSON body and calls the same ``run()``, nothing else
(``bench/floor_server.py``).

Same score.py, Ridge model, 2-row request and load generator (``wrk``, 16 connections,
loopback; two wrk threads here) as ``bench_inference.py``; the servers run side by side and
are measured in alternation, ``--rounds`` times each, and the round with the median
requests/s is reported, with the CPU each spent per request on its event loops' threads and
on its other threads. Target: the server at least 0.9x the floor's requests/s at 1 and 2
workers.

"ours" runs with its default settings; "ours, pinned" with ``WORKER_CPU_PINNING=on``, each
worker's threads on one CPU (the default, ``auto``, pins only when the workers are a whole
multiple of the CPUs: with 2 workers here, not with 1; see
``modelpack/inference_server/cpu_pinning.py``).

    .venv/bin/python bench/bench_floor.py                 # about 2 minutes
    .venv/bin/python bench/bench_floor.py --with-thread-floor --duration 3 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from wrk_rounds import (
    Result,
    ServerSpec,
    ensure_wrk,
    measure,
    prepare,
    print_comparison,
    round_arguments,
)

TARGET = 0.9
OURS = ("ours", "ours, pinned")
FLOOR = str(Path(__file__).with_name("floor_server.py"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Two wrk threads: one, among the four threads of a 2-worker server (loop and run thread
    # each) on two cores, gets too small a share and starves the threaded servers (ours and
    # "floor, thread" 0.73x and 0.88x the floor with 2 workers and one wrk thread, 0.86x
    # and 1.06x with two, 2 Dec).
    round_arguments(parser, threads=2)
    parser.add_argument(
        "--with-thread-floor",
        action="store_true",
        help="also measure the floor calling run() on a thread (the server's hand-over)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment of the inference server (e.g. AZUREML_LOG_LEVEL=WARNING)",
    )
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)

    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        folder = Path(tmp)
        body = prepare(folder)
        print(f"load average before: {os.getloadavg()[0]:.2f}; cpus: {os.cpu_count()}")
        rows = []
        for workers in args.workers:
            ours = [sys.executable, "-m", "modelpack.inference_server"]
            specs = [
                ServerSpec("floor", [sys.executable, FLOOR], "/"),
                ServerSpec("ours", ours, "/readyz", server_env),
                ServerSpec(
                    "ours, pinned", ours, "/readyz", {**server_env, "WORKER_CPU_PINNING": "on"}
                ),
            ]
            if args.with_thread_floor:
                specs.append(
                    ServerSpec("floor, thread", [sys.executable, FLOOR, "--run-on-thread"], "/")
                )
            results = measure(specs, workers, folder, body, wrk, args)
            rows += [(spec.name, workers, results[spec.name]) for spec in specs]
    print_table(rows)
    return 0


def print_table(rows: list[tuple[str, int, Result]]) -> None:
    print_comparison(rows, "floor", "server")
    floor = {workers: r for name, workers, r in rows if name == "floor"}
    print()
    for name, workers, r in rows:
        if name not in OURS:
            continue
        ratio = r.requests_per_s / floor[workers].requests_per_s
        extra_cpu = r.cpu_us_per_request - floor[workers].cpu_us_per_request
        verdict = "meets" if ratio >= TARGET else "misses"
        print(
            f"{name}, {workers} worker(s): {ratio:.2f}x the floor's requests/s, "
            f"{extra_cpu:+.0f} µs CPU per request -> {verdict} the target (>= {TARGET}x)"
        )
    print()
    print("CPU µs per request on the event loops' threads / on the others (run threads):")
    for name, workers, r in rows:
        other = max(r.cpu_us_per_request - r.main_cpu_us_per_request, 0.0)  # clock ticks
        print(f"  {name}, {workers} worker(s): {r.main_cpu_us_per_request:.0f} / {other:.0f}")


if __name__ == "__main__":
    sys.exit(main())
