"""Applying a traffic table to a live router: the configuration is written beside the live
one, tested inside the router (`nginx -t`), swapped in and applied with a graceful reload
(never a restart), so in-flight requests finish on the replicas they started on."""

from __future__ import annotations

import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from modelpack.providers.diff import diff_inputs, props_of
from modelpack.providers.progress import report
from modelpack.router.config import HEALTH_PATH, ROUTER_PORT, ROUTER_USER_ID

from .client import engine
from .container import bridge_url

RELOAD_DEADLINE_S = 30


class RouterReloadError(Exception):
    pass


def _exec(container, command: list[str]) -> str:
    result = container.exec_run(command)
    output = result.output.decode(errors="replace")
    if result.exit_code != 0:
        raise RouterReloadError(f"{' '.join(command)} failed: {output}")
    return output


def _health_answer(router) -> str:
    """What the router answers on its health route: the version of its configuration. Asked
    from the host (the router's image has nginx and a shell, nothing to ask with)."""
    url = bridge_url(router, ROUTER_PORT, HEALTH_PATH)
    if url is None:  # read when the container was fetched: it may have one by now
        router.reload()
        url = bridge_url(router, ROUTER_PORT, HEALTH_PATH)
    if url is None:
        raise RouterReloadError(f"the router {router.name} has no address")
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.read().decode(errors="replace")
    except (OSError, ValueError) as error:
        raise RouterReloadError(f"{url}: {error}") from None


def _served_version(props: dict[str, Any]) -> str | None:
    """The configuration version the router answers with now; None when it does not answer."""
    try:
        router = engine().containers.get(props["router_id"])
        return _health_answer(router).strip()
    except (docker.errors.DockerException, RouterReloadError, KeyError):
        return None


def apply_config(props: dict[str, Any]) -> None:
    """Write the configuration beside the live one, test it inside the router, swap it in and
    reload; returns once the router answers with the new configuration's version."""
    config_dir = Path(props["config_dir"])
    live, candidate = config_dir / "nginx.conf", config_dir / "nginx.conf.next"
    # The configuration holds the endpoint's keys: readable by the router's user alone.
    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(descriptor, 0o600)
        os.fchown(descriptor, ROUTER_USER_ID, ROUTER_USER_ID)
        file.write(props["conf"])
    router = engine().containers.get(props["router_id"])
    try:
        _exec(router, ["nginx", "-t", "-q", "-c", "/etc/modelpack/nginx.conf.next"])
    except RouterReloadError:
        candidate.unlink(missing_ok=True)
        raise
    candidate.replace(live)
    _exec(router, ["nginx", "-s", "reload", "-c", "/etc/modelpack/nginx.conf"])
    deadline = time.monotonic() + RELOAD_DEADLINE_S
    answer = ""
    while time.monotonic() < deadline:
        try:
            answer = _health_answer(router).strip()
        except RouterReloadError as error:  # between the closed nginx and the live one
            answer = str(error)
        if answer == props["version"]:
            report(f"router of {props['endpoint']} now serves traffic {props['summary']}")
            return
        time.sleep(0.1)
    raise RouterReloadError(
        f"the router did not load configuration {props['version']} within "
        f"{RELOAD_DEADLINE_S} s (its health route: {answer[-300:]})"
    )


class RouterTrafficProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        apply_config(props)
        return CreateResult(f"traffic-{props['endpoint']}", props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Applied in place, by a graceful reload, whatever changed.
        result = diff_inputs(RouterTrafficArgs, olds, news, replace=())
        if not result.changes and _served_version(olds) != olds.get("version"):
            # The router is stopped, or still answers with its closed configuration (it was
            # started again before its replicas): applying the table again waits for it.
            result.changes = True
        return result

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        apply_config(news)
        return UpdateResult(news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The live configuration: a file changed or lost by hand reads back as another
        version, so the next `up` writes this one again."""
        live = Path(props["config_dir"]) / "nginx.conf"
        try:
            text = live.read_text()
        except OSError:
            text = ""
        if text != props.get("conf"):
            return ReadResult(id_, {**props, "version": "changed outside modelpack"})
        return ReadResult(id_, props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # A configuration left behind names replicas that are gone: the endpoint's next router
        # would start from it (it is only seeded when absent) and refuse to start.
        (Path(props["config_dir"]) / "nginx.conf").unlink(missing_ok=True)


@dataclass
class RouterTrafficArgs:
    endpoint: str
    router_id: pulumi.Input[str]
    config_dir: str
    conf: pulumi.Input[str]
    """The rendered configuration (secret: it holds the endpoint's keys)."""
    version: pulumi.Input[str]
    """A hash of `conf`, answered on the router's health path once it is loaded."""
    summary: str
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]


class RouterTraffic(Resource, module="endpoint", name="Traffic"):
    def __init__(
        self,
        resource_name: str,
        args: RouterTrafficArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(RouterTrafficProvider(), resource_name, props_of(args), opts)
