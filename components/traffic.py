"""Traffic: the endpoint router's configuration, written once the deployments' replicas are
ready and applied with a graceful nginx reload (never a restart), so in-flight requests finish
on the replicas they started on."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from modelpack.assets import EndpointAsset, hash_data
from modelpack.router import RouterConfig, Upstream, render_nginx_conf
from modelpack.router.config import (
    DEFAULT_MAX_TOKEN_LIFETIME_S,
    HEALTH_PATH,
    ROUTER_PORT,
    ROUTER_USER_ID,
)
from modelpack.targets.docker.client import engine
from modelpack.targets.docker.progress import report

from .deployment import Deployment
from .endpoint import Endpoint

RELOAD_DEADLINE_S = 30


class RouterReloadError(Exception):
    pass


def _exec(container, command: list[str]) -> str:
    result = container.exec_run(command)
    output = result.output.decode(errors="replace")
    if result.exit_code != 0:
        raise RouterReloadError(f"{' '.join(command)} failed: {output}")
    return output


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
    health_url = f"http://127.0.0.1:{ROUTER_PORT}{HEALTH_PATH}"
    probe = (
        f"import urllib.request as u; print(u.urlopen('{health_url}', timeout=2).read().decode())"
    )
    deadline = time.monotonic() + RELOAD_DEADLINE_S
    while time.monotonic() < deadline:
        if _exec(router, ["python3", "-c", probe]).strip() == props["version"]:
            report(f"router of {props['endpoint']} now serves traffic {props['summary']}")
            return
        time.sleep(0.1)
    raise RouterReloadError(f"the router did not load configuration {props['version']}")


class RouterTrafficProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        apply_config(props)
        return CreateResult(f"traffic-{props['endpoint']}", props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ["version", "router_id", "config_dir", "summary"]
        changed = [key for key in keys if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        apply_config(news)
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # A configuration left behind names replicas that are gone: the endpoint's next router
        # would start from it (it is only seeded when absent) and refuse to start.
        (Path(props["config_dir"]) / "nginx.conf").unlink(missing_ok=True)


class RouterTraffic(Resource, module="endpoint", name="Traffic"):
    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions):
        super().__init__(RouterTrafficProvider(), resource_name, props, opts)


@dataclass
class TrafficArgs:
    asset: EndpointAsset
    endpoint: Endpoint
    deployments: list[Deployment]
    max_body_bytes: int = 100 * 1024 * 1024
    max_token_lifetime_s: int = DEFAULT_MAX_TOKEN_LIFETIME_S


class Traffic(pulumi.ComponentResource):
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]

    def __init__(
        self, resource_name: str, args: TrafficArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("modelpack:index:Traffic", resource_name, None, opts)
        asset, endpoint = args.asset, args.endpoint
        names = [deployment.name for deployment in args.deployments]
        self.traffic = {name: asset.traffic.get(name, 0) for name in names}
        self.mirror_traffic = dict(asset.mirror_traffic)
        keys = [endpoint.primary_key, endpoint.secondary_key]

        def render(values: list) -> dict[str, str]:
            servers, key_values = values[: len(names)], values[len(names) :]
            config = RouterConfig(
                endpoint=asset.name,
                upstreams=[Upstream(name, list(s)) for name, s in zip(names, servers, strict=True)],
                traffic=self.traffic,
                mirror_traffic=self.mirror_traffic,
                keys=[key for key in key_values if key],
                auth_mode=asset.auth_mode,
                max_body_bytes=args.max_body_bytes,
                max_token_lifetime_s=args.max_token_lifetime_s,
            )
            # The version is the hash of the configuration itself, so that no setting can
            # change what the router does without a reload (auth_mode once could).
            version = hash_data(render_nginx_conf(config))[:16]
            config = replace(config, version=version)
            return {"conf": render_nginx_conf(config), "version": version}

        rendered = pulumi.Output.all(*[d.servers for d in args.deployments], *keys).apply(render)
        summary = ", ".join(f"{name} {pct}%" for name, pct in sorted(self.traffic.items()))
        if self.mirror_traffic:
            summary += "; mirror " + ", ".join(
                f"{name} {pct}%" for name, pct in sorted(self.mirror_traffic.items())
            )
        RouterTraffic(
            f"{resource_name}-router-config",
            {
                "endpoint": asset.name,
                "router_id": endpoint.router_id,
                "config_dir": str(endpoint.config_dir),
                "conf": pulumi.Output.secret(rendered["conf"]),
                "version": rendered["version"],
                "summary": summary,
                "traffic": self.traffic,
                "mirror_traffic": self.mirror_traffic,
            },
            pulumi.ResourceOptions(parent=self, depends_on=[endpoint, *args.deployments]),
        )
        self.register_outputs({"traffic": self.traffic, "mirror_traffic": self.mirror_traffic})
