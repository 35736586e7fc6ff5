"""Endpoint: an online endpoint's network, router and keys.

The endpoint owns what deployments join (the network) and what clients call (the router on a
loopback port, kept for the endpoint's life by a RouterPort). It does not know its
deployments: the Traffic resource, which depends on both, writes the router's configuration
once their replicas are ready.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from modelpack.assets import EndpointAsset, hash_tree
from modelpack.router import IMAGE_SOURCE, render_closed_conf
from modelpack.router.config import HEALTH_PATH, ROUTER_PORT
from modelpack.targets.docker import Container, ContainerArgs, Image, ImageArgs, Network

from .keys import EndpointKeys
from .router_port import RouterPort


@dataclass
class EndpointArgs:
    asset: EndpointAsset
    stack: str
    state_dir: Path
    router_port: int
    """modelpack:routerPort: the stack's first router port (0: any free port)."""
    preferred_port: int = 0
    """The port to take when the endpoint is created, if no other endpoint has it."""
    base_image: str = "python:3.11-slim"
    labels: dict[str, str] | None = None
    key_generations: tuple[int, int] = (0, 0)


class Endpoint(pulumi.ComponentResource):
    network: pulumi.Output[str]
    router_id: pulumi.Output[str]
    config_dir: Path
    scoring_uri: pulumi.Output[str]
    swagger_uri: pulumi.Output[str]
    primary_key: pulumi.Output[str]
    secondary_key: pulumi.Output[str]

    def __init__(
        self, resource_name: str, args: EndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("modelpack:index:Endpoint", resource_name, None, opts)
        asset = args.asset
        child = pulumi.ResourceOptions(parent=self)
        labels = {**(args.labels or {}), "modelpack.endpoint": asset.name}
        self.name = asset.name
        self.auth_mode = asset.auth_mode
        network = Network(
            f"{resource_name}-network",
            name=f"mp-{args.stack}-{asset.name}",
            labels=labels,
            opts=child,
        )
        self.network = network.name

        # Key endpoints accept the keys; aml_token endpoints accept tokens signed with them.
        keys = EndpointKeys(f"{resource_name}-keys", asset.name, *args.key_generations, child)
        self.primary_key, self.secondary_key = keys.primary_key, keys.secondary_key

        router_hash = hash_tree(IMAGE_SOURCE)
        router_image = Image(
            f"{resource_name}-router-image",
            ImageArgs(
                tag=f"modelpack/{args.stack}/router:{router_hash[:12]}",
                context=str(IMAGE_SOURCE),
                build_args={"BASE_IMAGE": args.base_image},
                labels=labels,
                hashes={"router": router_hash},
            ),
            child,
        )
        self.config_dir = args.state_dir / "routers" / asset.name
        # Until the first traffic table is written every request gets 503.
        bootstrap = render_closed_conf(asset.name)
        host_port = RouterPort(
            f"{resource_name}-router-port",
            endpoint=asset.name,
            stack=args.stack,
            state_dir=args.state_dir,
            base=args.router_port,
            preferred=args.preferred_port,
            opts=child,
        ).port
        router = Container(
            f"{resource_name}-router",
            ContainerArgs(
                name=f"mp-{args.stack}-{asset.name}-router",
                image=router_image.image_id,
                labels={**labels, "modelpack.role": "router"},
                ports=[{"container": ROUTER_PORT, "host": host_port}],
                network=network.name,
                mounts=[
                    {
                        "source": str(self.config_dir),
                        "target": "/etc/modelpack",
                        "read_only": True,
                        "create_source": True,
                    }
                ],
                seed_files={str(self.config_dir / "nginx.conf"): bootstrap},
                readiness={"port": ROUTER_PORT, "path": HEALTH_PATH},
                ready_timeout_s=60,
                stop_grace_s=5,
            ),
            # Two containers cannot publish one host port, so the old router goes first: a
            # replacement costs a brief gap (README, Reliability). As a resource option this
            # also covers `pulumi up --replace`, which never asks the provider's diff.
            pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.router_id = router.container_id
        port = host_port.apply(int)
        self.scoring_uri = port.apply(lambda p: f"http://127.0.0.1:{p}/score")
        self.swagger_uri = port.apply(lambda p: f"http://127.0.0.1:{p}/swagger.json")
        self.register_outputs(
            {
                "network": self.network,
                "router_id": self.router_id,
                "scoring_uri": self.scoring_uri,
                "swagger_uri": self.swagger_uri,
            }
        )
