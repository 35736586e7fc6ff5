"""Endpoint: an online endpoint's network, router and keys.

The endpoint owns what deployments join (the network) and what clients call (the router). It
does not know its deployments: the Traffic component, which depends on both, configures the
router once their replicas are ready. Where the router runs is the target's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from modelpack import names
from modelpack.assets import EndpointAsset
from modelpack.providers.endpoint_keys import EndpointKeys, EndpointKeysArgs
from modelpack.providers.image_registry import Registry
from modelpack.router import render_closed_conf
from modelpack.router.config import ROUTER_BASE_IMAGE
from modelpack.targets import Target
from modelpack.targets.base import Router, RouterSpec


@dataclass
class EndpointArgs:
    asset: EndpointAsset
    stack: str
    state_dir: Path
    target: Target
    router_port: int
    """modelpack:routerPort: the stack's first router port (0: any free port)."""
    preferred_port: int = 0
    """The port to take when the endpoint is created, if no other endpoint has it."""
    base_image: str = ROUTER_BASE_IMAGE
    """The router's base image: nginx with its njs module."""
    labels: dict[str, str] | None = None
    key_generations: tuple[int, int] = (0, 0)
    registry: Registry | None = None
    """The workspace's registry, for targets that pull the router's image from it."""
    isolated: bool = False
    """Whether a deployment of the endpoint has its egress disabled: the endpoint then has
    an isolated network too, with no route out, which the router also joins."""


class Endpoint(pulumi.ComponentResource):
    network: pulumi.Output[str]
    isolated_network: pulumi.Output[str] | None
    router: Router
    scoring_uri: pulumi.Output[str]
    swagger_uri: pulumi.Output[str]
    primary_key: pulumi.Output[str]
    secondary_key: pulumi.Output[str]

    def __init__(
        self, resource_name: str, args: EndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(names.ENDPOINT, resource_name, None, opts)
        asset = args.asset
        child = pulumi.ResourceOptions(parent=self)
        labels = {**(args.labels or {}), names.LABEL_ENDPOINT: asset.name}
        self.name = asset.name
        self.auth_mode = asset.auth_mode
        self.network = args.target.network(
            f"{resource_name}-network", f"mp-{args.stack}-{asset.name}", labels, child
        )
        self.isolated_network = None
        if args.isolated:
            self.isolated_network = args.target.network(
                f"{resource_name}-isolated-network",
                f"mp-{args.stack}-{asset.name}-isolated",
                labels,
                child,
                isolated=True,
            )

        # Key endpoints accept the keys; aml_token endpoints accept tokens signed with them.
        primary, secondary = args.key_generations
        keys = EndpointKeys(
            f"{resource_name}-keys", EndpointKeysArgs(asset.name, primary, secondary), child
        )
        self.primary_key, self.secondary_key = keys.primary_key, keys.secondary_key

        self.router = args.target.router(
            resource_name,
            RouterSpec(
                endpoint=asset.name,
                stack=args.stack,
                labels=labels,
                network=self.network,
                state_dir=args.state_dir,
                router_port=args.router_port,
                preferred_port=args.preferred_port,
                # Until the first traffic table is applied every request gets 503.
                bootstrap_conf=render_closed_conf(asset.name),
                base_image=args.base_image,
                registry=args.registry.spec if args.registry else None,
                registry_address=args.registry.known_address if args.registry else None,
                isolated_network=self.isolated_network,
            ),
            child,
        )
        self.scoring_uri = self.router.base_url.apply(lambda url: f"{url}/score")
        self.swagger_uri = self.router.base_url.apply(lambda url: f"{url}/swagger.json")
        self.register_outputs(
            {
                "network": self.network,
                "router_id": self.router.router_id,
                "scoring_uri": self.scoring_uri,
                "swagger_uri": self.swagger_uri,
            }
        )
