"""The floor: the least a server can do to serve score.py over our HTTP stack.

A bare ASGI app on the same uvicorn configuration as the inference server (uvloop, the
httptools protocol with one send per response, ``SO_REUSEPORT`` socket per worker process)
that reads the JSON body, calls score.py's ``run()`` with it as a str and sends the answer
as JSON. Nothing else: no request ids, logs, metrics, limits or timeouts.

``run()`` is called inline on the event loop: that is the cheapest way to call it, so it is
the floor. ``--run-on-thread`` hands each call to one thread instead, with the inference server's
``RunThreads``, to measure what that hand-over costs on its own.

    python bench/floor_server.py --entry_script score.py --port 5001 --worker_count 2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for modelpack when run as a file

from modelpack.inference_server.run_threads import RunThreads  # noqa: E402
from modelpack.inference_server.transport import HttpProtocol  # noqa: E402

JSON_HEADERS = [(b"content-type", b"application/json")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entry_script", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--worker_count", type=int, default=1)
    parser.add_argument("--run-on-thread", action="store_true")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=serve, args=(args.entry_script, args.port, args.run_on_thread))
        for _ in range(args.worker_count)
    ]
    for worker in workers:
        worker.start()
    signal.signal(signal.SIGTERM, lambda *_: [w.terminate() for w in workers])
    for worker in workers:
        worker.join()


def serve(entry_script: str, port: int, run_on_thread: bool) -> None:
    script = load(entry_script)
    script.init()
    app = FloorApp(script.run, run_on_thread)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=HttpProtocol,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


def load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("entry_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FloorApp:
    def __init__(self, run: Callable[[str], Any], run_on_thread: bool) -> None:
        self.run = run
        self.threads = RunThreads(1) if run_on_thread else None

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/score":
            answer = json.dumps(await self.call(body.decode())).encode()
        else:
            answer = b"{}"  # liveness, for the benchmark's readiness check
        headers = [*JSON_HEADERS, (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def call(self, data: str) -> Any:
        if self.threads is None:
            return self.run(data)
        return await self.threads.submit(self.run, data)


if __name__ == "__main__":
    main()
