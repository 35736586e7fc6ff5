"""Traffic: the endpoint router's configuration (weighted split, mirroring, header routing,
key or token checks), rendered once the deployments' replicas are ready and handed to the
target, which applies it to the live router without dropping a request."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi

from modelpack import names
from modelpack.assets import EndpointAsset, hash_data
from modelpack.router import RouterConfig, Upstream, render_nginx_conf
from modelpack.targets import Target
from modelpack.targets.base import TrafficTable

from .deployment import Deployment
from .endpoint import Endpoint


@dataclass
class TrafficArgs:
    asset: EndpointAsset
    endpoint: Endpoint
    deployments: list[Deployment]
    target: Target
    max_body_bytes: int = names.DEFAULT_MAX_BODY_BYTES
    max_token_lifetime_s: int = names.DEFAULT_MAX_TOKEN_LIFETIME_S


class Traffic(pulumi.ComponentResource):
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]

    def __init__(
        self, resource_name: str, args: TrafficArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(names.TRAFFIC, resource_name, None, opts)
        asset, endpoint = args.asset, args.endpoint
        deployments = [deployment.name for deployment in args.deployments]
        self.traffic = {name: asset.traffic.get(name, 0) for name in deployments}
        self.mirror_traffic = dict(asset.mirror_traffic)
        keys = [endpoint.primary_key, endpoint.secondary_key]

        def render(values: list) -> dict[str, str]:
            servers, key_values = values[: len(deployments)], values[len(deployments) :]
            config = RouterConfig(
                endpoint=asset.name,
                upstreams=[
                    Upstream(name, list(s), balanced=args.target.balanced_servers)
                    for name, s in zip(deployments, servers, strict=True)
                ],
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
        self.router_config = args.target.traffic(
            f"{resource_name}-router-config",
            TrafficTable(
                endpoint=asset.name,
                router=endpoint.router,
                conf=pulumi.Output.secret(rendered["conf"]),
                version=rendered["version"],
                summary=summary,
                traffic=self.traffic,
                mirror_traffic=self.mirror_traffic,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[endpoint, *args.deployments]),
        )
        self.register_outputs({"traffic": self.traffic, "mirror_traffic": self.mirror_traffic})
