"""RouterPort: the loopback port of one endpoint's router, chosen once and kept for the
endpoint's life, so that adding or removing other endpoints never moves its scoring URI.

The port lives in the Pulumi state (this resource's output). A table under the stack's state
folder (`routers/ports.json`, changed under a file lock) records which endpoint holds which
port, so that endpoints created at the same time never pick the same one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from modelpack import names
from modelpack.providers.diff import diff_inputs, props_of
from modelpack.targets.docker.client import engine

HOST_IP = "127.0.0.1"
HIGHEST_PORT = 65535


class NoFreePortError(Exception):
    pass


@contextlib.contextmanager
def locked_table(state_dir: Path) -> Iterator[dict[str, int]]:
    """The stack's endpoint -> port table, held under an exclusive lock; written back on exit."""
    folder = state_dir / "routers"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ports.json"
    with open(folder / "ports.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text() if path.exists() else ""
        table = {str(k): int(v) for k, v in json.loads(text or "{}").items()}
        before = dict(table)
        yield table
        if table != before:
            scratch = path.with_suffix(".next")
            scratch.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
            os.replace(scratch, path)


def published_ports(stack: str, endpoint: str) -> tuple[set[int], int | None]:
    """Loopback ports published by containers of the engine, but for this endpoint's own
    router; and the port that router publishes, if it exists (a stack made before ports were
    kept in state adopts it, so its URI does not move)."""
    taken: set[int] = set()
    own: int | None = None
    for container in engine().containers.list(all=True):
        labels = container.labels or {}
        mine = (
            labels.get(names.LABEL_STACK) == stack
            and labels.get(names.LABEL_ENDPOINT) == endpoint
            and labels.get(names.LABEL_ROLE) == names.ROLE_ROUTER
        )
        bindings = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
        for binding in bindings.values():
            for entry in binding or []:
                if str(entry.get("HostPort") or "").isdigit():
                    port = int(entry["HostPort"])
                    if mine:
                        own = port
                    else:
                        taken.add(port)
    return taken, own


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST_IP, port))
        except OSError:
            return False
    return True


def _any_free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST_IP, 0))
        return probe.getsockname()[1]


def choose_port(base: int, preferred: int, held: set[int], taken: set[int], own: int | None) -> int:
    """The port for a new endpoint: its router's current port when it has one, else the
    preferred one unless another endpoint or container has it, else the lowest free port from
    `base` up (any free port when `base` is 0)."""
    if own is not None and own not in held:
        return own
    unavailable = held | taken
    if preferred and preferred not in unavailable:
        return preferred
    if not base:
        for _ in range(100):
            port = _any_free_port()
            if port not in unavailable:
                return port
        raise NoFreePortError("no free loopback port found")
    for port in range(base, HIGHEST_PORT + 1):
        if port not in unavailable and _bindable(port):
            return port
    raise NoFreePortError(f"no free loopback port from {base} up")


class RouterPortProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        endpoint, state_dir = props["endpoint"], Path(props["state_dir"])
        with locked_table(state_dir) as table:
            # An entry for this endpoint is one whose create never reached the state.
            port = table.get(endpoint)
            if port is None:
                held = {p for name, p in table.items() if name != endpoint}
                taken, own = published_ports(props["stack"], endpoint)
                port = choose_port(int(props["base"]), int(props["preferred"]), held, taken, own)
                table[endpoint] = port
        return CreateResult(f"router-port-{endpoint}", {**props, "port": port})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `base` and `preferred` only matter when the port is first chosen: recorded, never
        # moving the port.
        return diff_inputs(
            RouterPortArgs,
            olds,
            news,
            replace=("endpoint", "stack", "state_dir"),
            delete_before_replace=True,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, "port": olds["port"]})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with locked_table(Path(props["state_dir"])) as table:
            port = table.get(props["endpoint"])
        if port is None:  # the table was lost: the state still says which port it holds
            return ReadResult(id_, props)
        return ReadResult(id_, {**props, "port": port})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with locked_table(Path(props["state_dir"])) as table:
            if table.get(props["endpoint"]) == int(props["port"]):
                del table[props["endpoint"]]


@dataclass
class RouterPortArgs:
    endpoint: str
    stack: str
    state_dir: str
    base: int
    """modelpack:routerPort (0: any free port)."""
    preferred: int
    """The port to take if free: the endpoints of a first `up` count up from `base`."""


class RouterPort(Resource, module="endpoint", name="RouterPort"):
    port: pulumi.Output[int]

    def __init__(
        self, resource_name: str, args: RouterPortArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(RouterPortProvider(), resource_name, props_of(args, port=None), opts)
