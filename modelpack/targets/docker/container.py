"""A long-running container: a deployment replica or an endpoint router.

Containers are replaced, never updated in place, and the replacement is created before the old
one is deleted; `create` returns only once the new container is ready (its health check passes,
or it is running when it has none), so a container that fails to start fails the `up` with its
last log lines while the previous one keeps serving. The one in-place update: a container found
stopped by `refresh` is started again.

Every container is hardened unless its args say otherwise: no capabilities, no-new-privileges,
a pids limit, a read-only root filesystem with a tmpfs at /tmp for scratch. There is no way to
add capabilities or privileges.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors
import pulumi
from docker.types import Healthcheck, Mount
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from modelpack.providers.diff import diff_inputs, input_names, props_of
from modelpack.providers.progress import report

from .client import engine
from .live import BROKEN_STATES, STARTABLE_STATES, live_inputs

NANO = 1_000_000_000
LOG_LINES_ON_FAILURE = 30
PORT_TAKEN = ("port is already allocated", "address already in use")
UPDATED_IN_PLACE = ("ready_timeout_s", "stop_grace_s", "seed_files")
"""Inputs that only matter when the container is started or stopped: recorded, nothing else;
every other input replaces the container."""
DEFAULT_PIDS_LIMIT = 512
# Docker adds noexec to a tmpfs unless told "exec"; said here so that it shows in the state.
SCRATCH_TMPFS = {"/tmp": "rw,nosuid,nodev,noexec"}


class ContainerStartError(Exception):
    pass


class PortTakenError(ContainerStartError):
    pass


def _healthcheck(spec: dict[str, Any] | None) -> Healthcheck | None:
    if not spec:
        return None
    return Healthcheck(
        test=spec["test"],
        interval=int(spec.get("interval_s", 2) * NANO),
        timeout=int(spec.get("timeout_s", 2) * NANO),
        retries=int(spec.get("retries", 3)),
        start_period=int(spec.get("start_period_s", 0) * NANO),
    )


def bridge_url(container, port: int, path: str) -> str | None:
    """The URL of `path` on the container's `port`, over its bridge address (reachable from
    the host, as a kubelet reaches a pod); None while it has no address."""
    networks = container.attrs["NetworkSettings"]["Networks"]
    addresses = [net["IPAddress"] for net in networks.values() if net.get("IPAddress")]
    return f"http://{addresses[0]}:{int(port)}{path}" if addresses else None


def _ready_over_http(container, readiness: dict[str, Any]) -> bool:
    """Does the container answer its readiness route with 200? (Asked from the host, as a
    kubelet probe would.)"""
    url = bridge_url(container, readiness["port"], readiness.get("path", "/"))
    if url is None:
        return False
    try:
        with urllib.request.urlopen(url, timeout=float(readiness.get("timeout_s", 2))) as answer:
            return answer.status == 200
    except (OSError, ValueError):
        return False


def _wait_until_ready(container, props: dict[str, Any]) -> None:
    deadline_s = float(props.get("ready_timeout_s") or 120)
    readiness = props.get("readiness")
    has_healthcheck = bool(props.get("healthcheck"))
    deadline = time.monotonic() + deadline_s
    while True:
        container.reload()
        state = container.attrs["State"]
        if state["Status"] in ("exited", "dead") or state.get("Restarting"):
            raise ContainerStartError(f"exited with code {state.get('ExitCode')}")
        health = (state.get("Health") or {}).get("Status")
        if state["Status"] == "running":
            if readiness:
                if _ready_over_http(container, readiness):
                    return
            elif health == "healthy" or not has_healthcheck:
                return
        if time.monotonic() > deadline:
            raise ContainerStartError(
                f"not ready after {deadline_s:.0f} s (status {state['Status']}, health {health})"
            )
        time.sleep(0.5)


def _live_state(id_: str, props: dict[str, Any]) -> str | None:
    """The container's status now (running, exited, ...); None when it is gone."""
    container = _find(id_, props.get("container_name"))
    return None if container is None else container.status


def describe(container) -> dict[str, Any]:
    container.reload()
    networks = container.attrs["NetworkSettings"]["Networks"]
    ports = container.attrs["NetworkSettings"]["Ports"] or {}
    host_ports = {
        key.split("/")[0]: int(bindings[0]["HostPort"])
        for key, bindings in ports.items()
        if bindings
    }
    return {
        "container_id": container.id,
        "container_name": container.name,
        "state": container.status,
        "ip_addresses": {name: net["IPAddress"] for name, net in networks.items()},
        "host_ports": host_ports,
    }


def _short(image: str) -> str:
    """`name@sha256:0123456789ab` for a digest reference, else the first 40 characters."""
    if "@sha256:" in image:
        name, digest = image.rsplit("@", 1)
        return f"{name.rsplit('/', 1)[-1]}@{digest[:19]}"
    return image[:40]


def ensure_image(client, image: str) -> None:
    """A digest reference into a workspace registry that the engine does not hold yet (e.g.
    after `docker image prune`) is pulled from that registry; anything else must be local."""
    try:
        client.api.inspect_image(image)
    except docker.errors.ImageNotFound:
        if "@sha256:" not in image:
            raise
        report(f"pulling {image}")
        client.api.pull(image)


def _port_clash(error: docker.errors.APIError, props: dict[str, Any]) -> Exception:
    ports = ", ".join(
        f"127.0.0.1:{int(port['host'])}" for port in props.get("ports") or [] if port.get("host")
    )
    return PortTakenError(
        f"container {props['name']} cannot publish {ports}: the port is taken (by another "
        "workspace's router?). Give each workspace its own modelpack:routerPort, or 0 for any "
        f"free port.\n{error.explanation}"
    )


def free_port(host_ip: str) -> int:
    with socket.socket() as probe:
        probe.bind((host_ip, 0))
        return probe.getsockname()[1]


def start(props: dict[str, Any]):
    client = engine()
    ensure_image(client, props["image"])
    name = f"{props['name']}-{secrets.token_hex(3)}"
    # Pulumi passes every number as a float. A port left to chance is chosen here, not by
    # Docker: Docker would pick a new one each time the daemon restarts the container.
    ports = {}
    for port in props.get("ports") or []:
        host_ip = port.get("host_ip", "127.0.0.1")
        host_port = int(port["host"]) if port.get("host") else free_port(host_ip)
        ports[f"{int(port['container'])}/tcp"] = (host_ip, host_port)
    for mount in props.get("mounts") or []:
        if mount.get("type", "bind") == "bind" and mount.get("create_source"):
            Path(mount["source"]).mkdir(parents=True, exist_ok=True)
            if mount.get("owner"):
                _own(mount["source"], int(mount["owner"]))
    for path, content in (props.get("seed_files") or {}).items():
        if not Path(path).exists():
            Path(path).write_text(content)
    mounts = [
        Mount(
            target=mount["target"],
            source=mount["source"],
            type=mount.get("type", "bind"),
            read_only=bool(mount.get("read_only", False)),
        )
        for mount in props.get("mounts") or []
    ]
    cpus = props.get("cpus")
    memory_mb = props.get("memory_mb")
    restart = props.get("restart") or "unless-stopped"
    container = client.containers.create(
        props["image"],
        command=props.get("command") or None,
        name=name,
        environment=props.get("env") or {},
        labels=props.get("labels") or {},
        ports=ports,
        mounts=mounts,
        network=props.get("network") or None,
        nano_cpus=int(cpus * NANO) if cpus else None,
        mem_limit=f"{int(memory_mb)}m" if memory_mb else None,
        user=props.get("user") or None,
        read_only=bool(props.get("read_only_root")),
        tmpfs=props.get("tmpfs") or None,
        cap_drop=props.get("cap_drop") or None,
        cap_add=props.get("cap_add") or None,
        security_opt=["no-new-privileges:true"] if props.get("no_new_privileges") else None,
        pids_limit=int(props["pids_limit"]) if props.get("pids_limit") else None,
        restart_policy={"Name": restart} if restart != "no" else None,
        healthcheck=_healthcheck(props.get("healthcheck")),
        detach=True,
    )
    if props.get("network") and props.get("network_aliases"):
        network = client.networks.get(props["network"])
        network.disconnect(container)
        network.connect(container, aliases=props["network_aliases"])
    for extra in props.get("extra_networks") or []:
        client.networks.get(extra).connect(container)
    return container


def _own(folder: str, owner: int) -> None:
    """Give a writable mount's folder to the container's user, unless it cannot be changed
    (a read-only store: the replica then counts what it could not write)."""
    try:
        if os.stat(folder).st_uid != owner:
            os.chown(folder, owner, owner)
    except OSError:
        pass


def _find(id_: str, name: str | None):
    """The container `id_`, else one started by hand under its name in its place (it is then
    read as this resource, so that `up` replaces it and leaves nothing behind)."""
    for key in (id_, name):
        if not key:
            continue
        try:
            return engine().containers.get(key)
        except docker.errors.NotFound:
            pass
    return None


class ContainerProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        report(f"starting container {props['name']} from {_short(str(props['image']))}")
        container = start(props)
        try:
            try:
                container.start()
            except docker.errors.APIError as error:
                if any(text in str(error) for text in PORT_TAKEN):
                    raise _port_clash(error, props) from None
                raise
            _wait_until_ready(container, props)
        except BaseException as error:  # never leave a container the state does not know
            if isinstance(error, PortTakenError) or not isinstance(error, ContainerStartError):
                container.remove(force=True)
                raise
            logs = container.logs(tail=LOG_LINES_ON_FAILURE).decode(errors="replace")
            container.remove(force=True)
            raise ContainerStartError(
                f"container {props['name']} did not become ready: {error}.\n"
                f"Its last {LOG_LINES_ON_FAILURE} log lines:\n{logs}"
            ) from None
        report(f"container {container.name} ready")
        return CreateResult(container.id, {**props, **describe(container)})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replace = [name for name in input_names(ContainerArgs) if name not in UPDATED_IN_PLACE]
        result = diff_inputs(ContainerArgs, olds, news, replace=replace)
        # `state` is an output, read live here (no `refresh` needed): a container stopped
        # behind modelpack's back (by hand, by a host that went down) is started again, one
        # gone or beyond repair is made anew, and `preview` says so.
        state = _live_state(id_, olds)
        if state is None or state in BROKEN_STATES:
            result.replaces = [*result.replaces, "state"]
        stopped = state in STARTABLE_STATES
        result.changes = bool(result.changes or result.replaces or stopped)
        return result

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Record inputs that change nothing live, and start a container found stopped: the
        same container, so its name, address and port stay."""
        container = engine().containers.get(id_)
        if container.status not in STARTABLE_STATES:
            return UpdateResult({**news, **describe(container)})
        report(f"starting stopped container {container.name}")
        if container.status == "paused":
            container.unpause()
        else:
            container.start()
        try:
            _wait_until_ready(container, news)
        except ContainerStartError as error:
            logs = container.logs(tail=LOG_LINES_ON_FAILURE).decode(errors="replace")
            raise ContainerStartError(
                f"container {container.name} did not become ready again: {error}.\n"
                f"Its last {LOG_LINES_ON_FAILURE} log lines:\n{logs}"
            ) from None
        return UpdateResult({**news, **describe(container)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        container = _find(id_, props.get("container_name"))
        if container is None:
            return ReadResult(None, {})
        live = {**live_inputs(container, props), **describe(container)}
        return ReadResult(container.id, {**props, **live})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            container = engine().containers.get(id_)
        except docker.errors.NotFound:
            return
        container.stop(timeout=int(props.get("stop_grace_s") or 10))
        container.remove(force=True)


@dataclass
class ContainerArgs:
    name: pulumi.Input[str]
    image: pulumi.Input[str]
    command: pulumi.Input[list[str]] | None = None
    env: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    labels: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    ports: pulumi.Input[list[dict[str, Any]]] = field(default_factory=list)
    network: pulumi.Input[str] | None = None
    network_aliases: pulumi.Input[list[str]] = field(default_factory=list)
    extra_networks: pulumi.Input[list[str]] | None = None
    """More networks the container joins (a router joins its endpoint's isolated one)."""
    mounts: pulumi.Input[list[dict[str, Any]]] = field(default_factory=list)
    cpus: pulumi.Input[float] | None = None
    memory_mb: pulumi.Input[int] | None = None
    user: pulumi.Input[str] | None = None
    """The image's own user when None; whichever it is, it gets no capabilities."""
    read_only_root: pulumi.Input[bool] = True
    tmpfs: pulumi.Input[dict[str, str]] = field(default_factory=lambda: dict(SCRATCH_TMPFS))
    """Writable scratch mounts (path: mount options), in memory: they count against
    `memory_mb`."""
    cap_drop: pulumi.Input[list[str]] = field(default_factory=lambda: ["ALL"])
    cap_add: pulumi.Input[list[str]] | None = None
    """Capabilities given back (a replica without egress needs some to take its route out
    away, before its server gives up root and every capability)."""
    no_new_privileges: pulumi.Input[bool] = True
    pids_limit: pulumi.Input[int] | None = DEFAULT_PIDS_LIMIT
    restart: pulumi.Input[str] = "unless-stopped"
    healthcheck: pulumi.Input[dict[str, Any]] | None = None
    readiness: pulumi.Input[dict[str, Any]] | None = None
    """`{port, path}`: `create` returns once this route answers 200 (else when running)."""
    ready_timeout_s: pulumi.Input[float] = 120
    stop_grace_s: pulumi.Input[int] = 10
    seed_files: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    """Host files written before the first start when absent (e.g. a bootstrap config)."""


class Container(Resource, module="docker", name="Container"):
    container_id: pulumi.Output[str]
    container_name: pulumi.Output[str]
    state: pulumi.Output[str]
    ip_addresses: pulumi.Output[dict[str, str]]
    host_ports: pulumi.Output[dict[str, int]]

    def __init__(
        self, resource_name: str, args: ContainerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = props_of(
            args,
            container_id=None,
            container_name=None,
            state=None,
            ip_addresses=None,
            host_ports=None,
        )
        super().__init__(ContainerProvider(), resource_name, props, opts)
