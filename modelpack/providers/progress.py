"""Progress lines from inside a dynamic provider, shown by the Pulumi CLI.

A dynamic provider runs in its own process (`python -m pulumi.dynamic <engine address>`), away
from the program's logging channel, so long steps (image builds, waiting for replicas) report
through the engine's Log service directly.
"""

from __future__ import annotations

import functools
import re
import sys

import grpc
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

_ADDRESS = re.compile(r"^[\w.\-\[\]:]+:\d+$")


@functools.cache
def _engine() -> engine_pb2_grpc.EngineStub | None:
    candidates = [arg for arg in sys.argv[1:] if _ADDRESS.match(arg)]
    if not candidates:
        return None
    return engine_pb2_grpc.EngineStub(grpc.insecure_channel(candidates[-1]))


def report(message: str) -> None:
    """Print one progress line in the CLI's output (stderr when no engine is attached)."""
    stub = _engine()
    if stub is None:
        print(message, file=sys.stderr, flush=True)
        return
    try:
        stub.Log(engine_pb2.LogRequest(severity=engine_pb2.INFO, message=message))
    except grpc.RpcError:
        print(message, file=sys.stderr, flush=True)
