"""CPU time per request of the inference server's ASGI app against the floor's, in-process:
no sockets, no HTTP parsing, no load generator, so the difference is the app's own work.

Each app gets the benchmark's 2-row POST /score from ``--connections`` concurrent callers on
uvloop, as uvicorn would call it; the CPU time of the process (every thread) is divided by the
requests answered. To see where the time goes, run it under a sampling profiler:

    .venv/bin/python bench/request_path.py
    .venv/bin/python bench/request_path.py --multiprocess   # metrics as with several workers
    .venv/bin/py-spy record --gil -r 1000 -o ours.svg -- .venv/bin/python bench/request_path.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop
from wrk_rounds import REPO, prepare

sys.path.insert(0, str(REPO))

Scope = dict[str, Any]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40_000, help="per app and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", choices=["ours", "floor", "floor, thread"])
    parser.add_argument(
        "--multiprocess", action="store_true", help="prometheus multiprocess mode (2 workers)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="request-path-"))
    body = prepare(folder).read_bytes()
    os.environ["AZUREML_MODEL_DIR"] = str(folder / "model")
    if args.multiprocess:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    quiet_stdout()  # the server's request log lines go to fd 1
    factories = {
        "floor": lambda: floor_app(folder, run_on_thread=False),
        "floor, thread": lambda: floor_app(folder, run_on_thread=True),
        "ours": lambda: our_app(folder, args.multiprocess),
    }
    if args.only:
        factories = {args.only: factories[args.only]}
    results: dict[str, list[float]] = {name: [] for name in factories}
    for _ in range(args.rounds):
        for name, factory in factories.items():  # a fresh app each round: ours stops at shutdown
            results[name].append(uvloop.run(cpu_per_request(factory(), body, args)))
    for name, values in results.items():
        figures = ", ".join(f"{v:.1f}" for v in values)
        print(f"{name:>6}: CPU µs/request per round: {figures}; best {min(values):.1f}")
    return 0


def quiet_stdout() -> None:
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(saved, "w", buffering=1)  # noqa: SIM115


def floor_app(folder: Path, run_on_thread: bool) -> Callable[..., Any]:
    from floor_server import FloorApp, load

    script = load(str(folder / "score.py"))
    script.init()
    return FloorApp(script.run, run_on_thread)


def our_app(folder: Path, multiprocess: bool) -> Callable[..., Any]:
    from modelpack.inference_server import logs
    from modelpack.inference_server.app import InferenceApp
    from modelpack.inference_server.settings import Settings
    from modelpack.inference_server.shared import SharedState
    from modelpack.inference_server.worker import choose_scorer

    logs.configure("INFO")
    workers = 2 if multiprocess else 1
    settings = Settings.from_env({**os.environ, "AZUREML_ENTRY_SCRIPT": str(folder / "score.py")})
    shared = SharedState.create(workers, 0)
    shared.ready[:] = [1] * workers  # the other worker counts as ready
    app = InferenceApp(settings, choose_scorer(settings), shared)
    app.swagger = app._initialise(None)
    app.ready = True
    return app


async def cpu_per_request(app: Callable[..., Any], body: bytes, args: argparse.Namespace) -> float:
    lifespan = asyncio.Queue[dict[str, Any]]()
    await lifespan.put({"type": "lifespan.startup"})
    started: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    if hasattr(app, "run_threads"):  # ours: start its heartbeat and collector as uvicorn would
        asyncio.create_task(app({"type": "lifespan"}, lifespan.get, started.put))
        await started.get()
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/score",
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 5001),
        "client": ("127.0.0.1", 40000),
        "headers": [
            (b"host", b"127.0.0.1:5001"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(_: dict[str, Any]) -> None:
        pass

    async def caller(count: int) -> None:
        for _ in range(count):
            await app(dict(scope), receive, send)

    each = args.requests // args.connections
    cpu = time.process_time()
    await asyncio.gather(*(caller(each) for _ in range(args.connections)))
    spent = time.process_time() - cpu
    if hasattr(app, "run_threads"):
        await lifespan.put({"type": "lifespan.shutdown"})
        await started.get()
    return spent / (each * args.connections) * 1e6


if __name__ == "__main__":
    sys.exit(main())
