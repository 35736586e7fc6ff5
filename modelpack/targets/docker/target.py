"""The Docker target: one host's Docker engine runs everything.

- a network per endpoint (a user-defined bridge);
- replicas as containers named `<set>-<index>`, limited to their instance type, that count
  as created once their readiness route answers;
- the router as a container publishing a loopback port that the endpoint keeps for life
  (RouterPort), replaced delete-first (two containers cannot publish one port);
- traffic applied inside the router with `nginx -t` and a graceful reload;
- images built by the engine, pushed to and pulled from the workspace's registry.
"""

from __future__ import annotations

from typing import Any

import pulumi

from modelpack import names
from modelpack.assets import hash_tree
from modelpack.router import IMAGE_SOURCE
from modelpack.router.config import HEALTH_PATH, ROUTER_PORT

from .. import egress
from ..base import (
    BuiltImage,
    ImageBuild,
    ImagePush,
    PulledImage,
    Replicas,
    ReplicaSet,
    Router,
    RouterSpec,
    TrafficTable,
)
from .base_images import python_version
from .container import Container, ContainerArgs
from .image import Image, ImageArgs
from .network import Network, NetworkArgs
from .pulled_image import PulledImage as PulledImageResource
from .pulled_image import PulledImageArgs
from .registry_image import RegistryImage, RegistryImageArgs
from .router_port import RouterPort, RouterPortArgs
from .runtime import DockerRuntime
from .traffic import RouterTraffic, RouterTrafficArgs

ROUTER_CONFIG_MOUNT = "/etc/modelpack"


def router_build(spec: RouterSpec) -> ImageBuild:
    """The endpoint's router image (modelpack/router/image) on the stack's base image, tagged
    by its content."""
    router_hash = hash_tree(IMAGE_SOURCE)
    return ImageBuild(
        tag=f"modelpack/{spec.stack}/router:{router_hash[:12]}",
        context=str(IMAGE_SOURCE),
        build_args={"BASE_IMAGE": spec.base_image},
        labels=spec.labels,
        hashes={"router": router_hash},
    )


class DockerTarget:
    name = "docker"
    autoscales = False
    balanced_servers = False
    isolates_egress = True

    def network(
        self,
        resource_name: str,
        name: str,
        labels: dict[str, str],
        opts: pulumi.ResourceOptions,
        isolated: bool = False,
    ) -> pulumi.Output[str]:
        args = NetworkArgs(name=name, labels=labels, internal=True if isolated else None)
        return Network(resource_name, args, opts).name

    def image(
        self, resource_name: str, build: ImageBuild, opts: pulumi.ResourceOptions
    ) -> BuiltImage:
        image = Image(
            resource_name,
            ImageArgs(
                tag=build.tag,
                context=build.context,
                build_args=build.build_args,
                labels=build.labels,
                hashes=build.hashes,
            ),
            opts,
        )
        return BuiltImage(image_id=image.image_id, size_bytes=image.size_bytes)

    def push(
        self, resource_name: str, push: ImagePush, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        pushed = RegistryImage(
            resource_name,
            RegistryImageArgs(
                image_id=push.image_id,
                repository=push.repository,
                tag=push.tag,
                registry=push.registry,
            ),
            opts,
        )
        return pushed.repo_digest

    def pull(
        self,
        resource_name: str,
        reference: str,
        registry: pulumi.Input[dict[str, Any]],
        opts: pulumi.ResourceOptions,
    ) -> PulledImage:
        pulled = PulledImageResource(
            resource_name, PulledImageArgs(reference=reference, registry=registry), opts
        )
        return PulledImage(image_id=pulled.image_id, reference=pulled.id, labels=pulled.labels)

    def replicas(
        self, resource_name: str, spec: ReplicaSet, opts: pulumi.ResourceOptions
    ) -> Replicas:
        mounts = [
            {
                "source": mount.source,
                "target": mount.target,
                "read_only": mount.read_only,
                **({"create_source": True, "owner": mount.owner} if mount.owner else {}),
            }
            for mount in spec.mounts
        ]
        env, no_egress = spec.env, {}
        if not spec.egress:
            # The isolated network (spec.network) has no way out, and no route out once the
            # server has deleted it.
            env = {**spec.env, **egress.server_env()}
            no_egress = {"user": str(egress.START_AS_USER), "cap_add": list(egress.CAPABILITIES)}
        containers = [
            Container(
                f"{resource_name}-{index}",
                ContainerArgs(
                    name=f"{spec.name}-{index}",
                    image=spec.image,
                    env=env,
                    labels={**spec.labels, names.LABEL_REPLICA: str(index)},
                    network=spec.network,
                    mounts=mounts,
                    cpus=spec.cpus,
                    memory_mb=spec.memory_mb,
                    readiness={
                        "port": spec.readiness.port,
                        "path": spec.readiness.path,
                        "timeout_s": spec.readiness.timeout_s,
                    },
                    ready_timeout_s=spec.ready_timeout_s,
                    stop_grace_s=spec.stop_grace_s,
                    **no_egress,
                ),
                opts,
            )
            for index in range(spec.count)
        ]
        replica_names = pulumi.Output.all(*[c.container_name for c in containers])
        port = spec.readiness.port
        return Replicas(
            names=replica_names,
            servers=replica_names.apply(lambda found: [f"{n}:{port}" for n in found]),
        )

    def router(self, resource_name: str, spec: RouterSpec, opts: pulumi.ResourceOptions) -> Router:
        image = self.image(f"{resource_name}-router-image", router_build(spec), opts)
        config_dir = spec.state_dir / "routers" / spec.endpoint
        host_port = RouterPort(
            f"{resource_name}-router-port",
            RouterPortArgs(
                endpoint=spec.endpoint,
                stack=spec.stack,
                state_dir=str(spec.state_dir),
                base=spec.router_port,
                preferred=spec.preferred_port,
            ),
            opts,
        ).port
        container = Container(
            f"{resource_name}-router",
            ContainerArgs(
                name=f"mp-{spec.stack}-{spec.endpoint}-router",
                image=image.image_id,
                labels={**spec.labels, names.LABEL_ROLE: names.ROLE_ROUTER},
                ports=[{"container": ROUTER_PORT, "host": host_port}],
                network=spec.network,
                extra_networks=[spec.isolated_network] if spec.isolated_network else None,
                mounts=[
                    {
                        "source": str(config_dir),
                        "target": ROUTER_CONFIG_MOUNT,
                        "read_only": True,
                        "create_source": True,
                    }
                ],
                # closed.conf: what the router answers with while its live configuration
                # does not load (router image, start.sh).
                seed_files={
                    str(config_dir / "nginx.conf"): spec.bootstrap_conf,
                    str(config_dir / "closed.conf"): spec.bootstrap_conf,
                },
                readiness={"port": ROUTER_PORT, "path": HEALTH_PATH},
                ready_timeout_s=60,
                stop_grace_s=5,
            ),
            # Two containers cannot publish one host port, so the old router goes first: a
            # replacement costs a brief gap (README, Reliability). As a resource option this
            # also covers `pulumi up --replace`, which never asks the provider's diff.
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        return Router(
            router_id=container.container_id,
            base_url=host_port.apply(lambda port: f"http://127.0.0.1:{int(port)}"),
            config_dir=config_dir,
        )

    def traffic(
        self, resource_name: str, table: TrafficTable, opts: pulumi.ResourceOptions
    ) -> pulumi.Resource:
        return RouterTraffic(
            resource_name,
            RouterTrafficArgs(
                endpoint=table.endpoint,
                router_id=table.router.router_id,
                config_dir=str(table.router.config_dir),
                conf=table.conf,
                version=table.version,
                summary=table.summary,
                traffic=table.traffic,
                mirror_traffic=table.mirror_traffic,
            ),
            opts,
        )

    def python_version(self, image: str) -> str:
        return python_version(image)

    def runtime(self) -> DockerRuntime:
        return DockerRuntime()
