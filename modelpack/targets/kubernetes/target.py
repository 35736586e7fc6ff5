"""The Kubernetes target: a cluster runs the endpoints, through the pulumi-kubernetes provider.

- a namespace per workspace (stack), holding everything else;
- each deployment: a Deployment of `instance_count` replicas (the package image by digest from
  the workspace's registry, requests and limits from the instance type, readiness and liveness
  probes from the YAML, `maxUnavailable: 0`, a grace period from the request timeout, the
  hardened pod of workloads.py) and a ClusterIP Service the router sends to;
- each endpoint's router: the same nginx image and configuration as on Docker, a Deployment
  whose configuration (with the keys) is a Secret, behind a NodePort Service that kube-proxy
  also answers on 127.0.0.1: the scoring URI is on loopback, as on Docker. A traffic change
  writes a new Secret and rolls the router (new pods ready before old ones drain);
- images are built by the local Docker engine and pushed to the workspace's registry, which
  the cluster's containerd pulls from by digest (the Docker target's image resources).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from modelpack import names
from modelpack.image_registry import repository_name
from modelpack.router.config import HEALTH_PATH, ROUTER_PORT, ROUTER_USER_ID

from .. import egress
from ..base import (
    BuiltImage,
    ImageBuild,
    ImagePush,
    Probe,
    PulledImage,
    Replicas,
    ReplicaSet,
    Router,
    RouterSpec,
    TrafficTable,
)
from ..docker.target import DockerTarget, router_build
from .cluster import INSTANCE_TYPE_LABEL, ROUTER_NODE_LABEL, NodePools, kubeconfig_path, node_pools
from .naming import namespace_for, object_name
from .rollout import Rollout, RolloutArgs, RouterRollout, RouterRolloutArgs
from .runtime import KubernetesRuntime, replica_slot
from .workloads import (
    DRAIN_S,
    SKIP_AWAIT,
    WORKLOAD_LABEL,
    autoscaler_spec,
    deployment_spec,
    hardened_container,
    owning_container,
    pod_template,
    probe,
    resources,
)

CONFIG_KUBECONFIG = "kubeconfig"
"""`modelpack:kubeconfig`: the cluster to deploy to (default: the local one, cluster.py)."""
CONFIG_SCALE_DOWN_WINDOW = "scaleDownStabilizationSeconds"
"""`modelpack:scaleDownStabilizationSeconds`: how long an autoscaler waits for lower load to
last before it removes replicas (default: Kubernetes's, 300 s)."""
CONFIG_NODE_LOSS_TOLERATION = "nodeLossTolerationSeconds"
"""`modelpack:nodeLossTolerationSeconds`: how long the replicas and routers of a node that
stopped answering stay bound to it before they are replaced on other nodes."""
CONFIG_POD_NETWORK = "podNetwork"
"""`modelpack:podNetwork`: the cluster's pod address range. A replica without egress keeps a
route to it alone: routers on other nodes call it from there."""
DEFAULT_POD_NETWORK = "10.244.0.0/16"
"""kubeadm's and flannel's default, and the local cluster's (scripts/cluster.sh)."""
DEFAULT_NODE_LOSS_TOLERATION_S = 30
"""An online endpoint replaces a lost replica after 30 s, not Kubernetes's 300 s (which waits
out network partitions of batch nodes); the lost replica left its Service long before."""
ROUTER_REPLICAS = 2
ROUTER_CONFIG_MOUNT = "/etc/modelpack"
ROUTER_CONFIG_VERSION = "modelpack.router.config-version"
ROUTER_DRAIN = (
    f"sleep {DRAIN_S}; nginx -c {ROUTER_CONFIG_MOUNT}/nginx.conf -s quit; "
    'while kill -0 "$(cat /tmp/nginx.pid)" 2>/dev/null; do sleep 0.2; done'
)
"""The router's preStop: once kube-proxy has stopped sending it new connections, nginx is
asked for a graceful stop and waited for (the kubelet's SIGTERM would be nginx's fast stop,
dropping requests in flight)."""
IMAGE_PULL_ALLOWANCE_S = 180
"""Added to a deployment's readiness budget: a replica's first start pulls its image."""
ROUTER_READY_TIMEOUT_S = 120
ROUTER_READINESS = Probe(
    port=ROUTER_PORT, path=HEALTH_PATH, timeout_s=3, period_s=2, failure_threshold=5
)
"""A router out of its Service only after 10 s without an answer: both routers of an endpoint
missing a few probes at once, on a busy node, would refuse every client."""


@dataclass(frozen=True)
class RouterParts:
    """What `router` declared of an endpoint's router, for `traffic` to start it from."""

    name: str
    namespace: pulumi.Input[str]
    image: pulumi.Output[str]
    labels: dict[str, str]
    base_url: pulumi.Output[str]


class KubernetesTarget:
    name = "kubernetes"
    autoscales = True
    balanced_servers = True
    isolates_egress = True

    def __init__(self, kubeconfig: str | None = None) -> None:
        config = pulumi.Config(names.CONFIG_NAMESPACE)
        if kubeconfig is None:
            kubeconfig = config.get(CONFIG_KUBECONFIG)
        self.kubeconfig = str(kubeconfig_path(kubeconfig))
        self.scale_down_window_s = config.get_int(CONFIG_SCALE_DOWN_WINDOW)
        self.pod_network = config.get(CONFIG_POD_NETWORK) or DEFAULT_POD_NETWORK
        toleration = config.get_int(CONFIG_NODE_LOSS_TOLERATION)
        self.node_loss_toleration_s = (
            DEFAULT_NODE_LOSS_TOLERATION_S if toleration is None else toleration
        )
        self.images = DockerTarget()
        self._provider: k8s.Provider | None = None
        self.namespace: k8s.core.v1.Namespace | None = None
        self._routers: dict[str, RouterParts] = {}
        self._node_pools: NodePools | None = None

    # --- the cluster and the workspace's namespace --------------------------------------------

    def _cluster_provider(self) -> k8s.Provider:
        if self._provider is None:
            self._provider = k8s.Provider("kubernetes", kubeconfig=self.kubeconfig)
        return self._provider

    def _opts(self, opts: pulumi.ResourceOptions, **extra: Any) -> pulumi.ResourceOptions:
        # Objects have fixed names: a replacement must delete the old one first.
        return pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                provider=self._cluster_provider(), delete_before_replace=True, **extra
            ),
        )

    def _workspace_namespace(self, labels: dict[str, str]) -> k8s.core.v1.Namespace:
        # One per workspace, declared by the first endpoint but parented to the stack: removing
        # that endpoint must not take the namespace (and every other endpoint) with it.
        if self.namespace is None:
            stack = pulumi.get_stack()
            workspace_labels = {
                key: value for key, value in labels.items() if key != names.LABEL_ENDPOINT
            }
            self.namespace = k8s.core.v1.Namespace(
                "namespace",
                metadata={"name": namespace_for(stack), "labels": workspace_labels},
                opts=self._opts(pulumi.ResourceOptions()),
            )
        return self.namespace

    def network(
        self,
        resource_name: str,
        name: str,
        labels: dict[str, str],
        opts: pulumi.ResourceOptions,
        isolated: bool = False,
    ) -> pulumi.Output[str]:
        """An endpoint's router and replicas share the workspace's namespace."""
        return self._workspace_namespace(labels).metadata.name

    # --- images: built by the local engine, served to the cluster by the registry -------------

    def image(
        self, resource_name: str, build: ImageBuild, opts: pulumi.ResourceOptions
    ) -> BuiltImage:
        return self.images.image(resource_name, build, opts)

    def push(
        self, resource_name: str, push: ImagePush, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        return self.images.push(resource_name, push, opts)

    def pull(
        self,
        resource_name: str,
        reference: str,
        registry: pulumi.Input[dict[str, Any]],
        opts: pulumi.ResourceOptions,
    ) -> PulledImage:
        return self.images.pull(resource_name, reference, registry, opts)

    def python_version(self, image: str) -> str:
        return self.images.python_version(image)

    # --- replicas -----------------------------------------------------------------------------

    def node_pools(self) -> NodePools:
        """The cluster's node labels, read once."""
        if self._node_pools is None:
            self._node_pools = node_pools(self.kubeconfig)
        return self._node_pools

    def _placement(self, spec: ReplicaSet) -> tuple[dict[str, str], str]:
        """(node selector, what to say if no node takes a replica) of a replica set: nodes of
        its instance type where the cluster's nodes carry instance types (node pools);
        anywhere on a cluster whose nodes carry none."""
        offered = self.node_pools().instance_types
        if not offered or spec.instance_type is None:
            return {}, ""
        wanted = spec.instance_type
        if wanted not in offered:
            pulumi.log.warn(
                f"deployment {spec.labels[names.LABEL_DEPLOYMENT]}: no node offers instance type "
                f"{wanted} (nodes offer {', '.join(sorted(offered))}): its replicas cannot be "
                "placed"
            )
        return {INSTANCE_TYPE_LABEL: wanted}, (
            f"no node offers instance type {wanted} (label {INSTANCE_TYPE_LABEL}; nodes offer "
            f"{', '.join(sorted(offered))})"
        )

    def replicas(
        self, resource_name: str, spec: ReplicaSet, opts: pulumi.ResourceOptions
    ) -> Replicas:
        endpoint = spec.labels[names.LABEL_ENDPOINT]
        deployment_name = spec.labels[names.LABEL_DEPLOYMENT]
        name = object_name(endpoint, deployment_name)
        labels = {**spec.labels, WORKLOAD_LABEL: name}
        volumes, volume_mounts, stores = [], [], []
        for index, mount in enumerate(spec.mounts):
            # Every node of this cluster shares the host's files; a store is made when missing.
            kind = "DirectoryOrCreate" if mount.owner else "Directory"
            volumes.append(
                {"name": f"mount-{index}", "host_path": {"path": mount.source, "type": kind}}
            )
            volume_mounts.append(
                {
                    "name": f"mount-{index}",
                    "mount_path": mount.target,
                    "read_only": mount.read_only,
                }
            )
            if mount.owner:
                stores.append((f"mount-{index}", mount.target, mount.owner))
        port = spec.readiness.port
        env, start_as_root_with = spec.env, ()
        if not spec.egress:
            # No network policy here: the server deletes the pod's route out as it starts.
            env = {**spec.env, **egress.server_env([self.pod_network])}
            start_as_root_with = egress.CAPABILITIES
        container = hardened_container(
            "server",
            spec.image,
            port=port,
            env=env,
            start_as_root_with=start_as_root_with,
            readiness=probe(spec.readiness),
            liveness=probe(spec.liveness) if spec.liveness else None,
            resource_limits=resources(
                spec.cpus, spec.memory_mb, spec.cpu_request, spec.memory_request_mb
            ),
            volume_mounts=volume_mounts,
        )
        node_selector, unschedulable_hint = self._placement(spec)
        template = pod_template(
            labels,
            container,
            stop_grace_s=spec.stop_grace_s,
            init_containers=[owning_container(spec.image, stores)] if stores else None,
            volumes=volumes,
            node_selector=node_selector,
            node_loss_toleration_s=self.node_loss_toleration_s,
        )
        deployment = k8s.apps.v1.Deployment(
            resource_name,
            metadata={
                "name": name,
                "namespace": spec.network,
                "labels": labels,
                "annotations": SKIP_AWAIT,
            },
            spec=deployment_spec(name, None if spec.autoscale else spec.count, template),
            opts=self._opts(opts),
        )
        if spec.autoscale is not None:
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{resource_name}-autoscaler",
                metadata={"name": name, "namespace": spec.network, "labels": labels},
                spec=autoscaler_spec(name, spec.autoscale, self.scale_down_window_s),
                opts=self._opts(opts, depends_on=[deployment]),
            )
        service = k8s.core.v1.Service(
            f"{resource_name}-service",
            metadata={
                "name": name,
                "namespace": spec.network,
                "labels": labels,
                "annotations": SKIP_AWAIT,
            },
            spec={
                "type": "ClusterIP",
                "selector": {WORKLOAD_LABEL: name},
                "ports": [{"name": "http", "port": port, "target_port": port}],
            },
            opts=self._opts(opts),
        )
        rollout = Rollout(
            f"{resource_name}-rollout",
            RolloutArgs(
                kubeconfig=self.kubeconfig,
                namespace=spec.network,
                deployment=name,
                generation=deployment.metadata.generation,
                timeout_s=spec.ready_timeout_s + IMAGE_PULL_ALLOWANCE_S,
                what=f"deployment {deployment_name} of endpoint {endpoint}",
                unschedulable_timeout_s=spec.ready_timeout_s,
                unschedulable_hint=unschedulable_hint,
            ),
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[deployment])),
        )
        # The router sends to the Service once the replicas behind it are ready.
        servers = pulumi.Output.all(service.spec.cluster_ip, rollout.id).apply(
            lambda values: [f"{values[0]}:{port}"]
        )
        # An autoscaled deployment has at least its minimum: those slots are listed.
        count = spec.autoscale.min_replicas if spec.autoscale else spec.count
        slots = pulumi.Output.from_input(spec.network).apply(
            lambda namespace: [replica_slot(namespace, name, i) for i in range(count)]
        )
        return Replicas(names=slots, servers=servers)

    # --- the endpoint's router ----------------------------------------------------------------

    def router(self, resource_name: str, spec: RouterSpec, opts: pulumi.ResourceOptions) -> Router:
        if spec.registry is None or spec.registry_address is None:
            raise ValueError("the Kubernetes target pulls the router's image from the registry")
        build = router_build(spec)
        built = self.images.image(f"{resource_name}-router-image", build, opts)
        image = self.images.push(
            f"{resource_name}-router-push",
            ImagePush(
                image_id=built.image_id,
                repository=pulumi.Output.concat(
                    spec.registry_address, "/", repository_name(f"{spec.stack}-router")
                ),
                tag=build.hashes["router"][:12],
                registry=spec.registry,
            ),
            opts,
        )
        name = object_name(spec.endpoint, "router")
        labels = {**spec.labels, names.LABEL_ROLE: names.ROLE_ROUTER, WORKLOAD_LABEL: name}
        service_spec: dict[str, Any] = {
            "type": "NodePort",
            "selector": {WORKLOAD_LABEL: name},
            "ports": [{"name": "http", "port": 80, "target_port": ROUTER_PORT}],
        }
        service = k8s.core.v1.Service(
            f"{resource_name}-router-service",
            metadata={
                "name": name,
                "namespace": spec.network,
                "labels": labels,
                "annotations": SKIP_AWAIT,
            },
            spec=service_spec,
            # The node port, allocated by the cluster, is the scoring URI's: kept for the
            # Service's life, which is the endpoint's.
            opts=self._opts(opts),
        )
        # None in a preview of a new endpoint: the cluster allocates the port on creation.
        node_port = service.spec.apply(lambda live: live.ports[0].node_port)
        base_url = node_port.apply(
            lambda port: f"http://127.0.0.1:{port if port else '<node port>'}"
        )
        self._routers[spec.endpoint] = RouterParts(
            name=name, namespace=spec.network, image=image, labels=labels, base_url=base_url
        )
        return Router(
            router_id=service.metadata.uid,
            base_url=base_url,
            config_dir=spec.state_dir / "routers" / spec.endpoint,
        )

    def traffic(
        self, resource_name: str, table: TrafficTable, opts: pulumi.ResourceOptions
    ) -> pulumi.Resource:
        """The configuration as a Secret, and the router's Deployment started from it: a new
        configuration rolls the router (new pods ready before the old ones drain)."""
        router = self._routers[table.endpoint]
        name, namespace = router.name, router.namespace
        # Named by Pulumi, and replaced (create first) when the configuration changes: the
        # router rolls to the new Secret while old pods keep theirs until they drain.
        secret = k8s.core.v1.Secret(
            f"{resource_name}-secret",
            metadata={"namespace": namespace, "labels": router.labels},
            string_data={"nginx.conf": table.conf},
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(provider=self._cluster_provider())
            ),
        )
        container = hardened_container(
            "router",
            router.image,
            port=ROUTER_PORT,
            readiness=probe(ROUTER_READINESS),
            volume_mounts=[
                {"name": "config", "mount_path": ROUTER_CONFIG_MOUNT, "read_only": True}
            ],
            pre_stop={"exec": {"command": ["/bin/sh", "-c", ROUTER_DRAIN]}},
        )
        template = pod_template(
            router.labels,
            container,
            stop_grace_s=10,
            volumes=[
                {
                    "name": "config",
                    # Readable by the router's group alone: it holds the endpoint's keys.
                    "secret": {"secret_name": secret.metadata.name, "default_mode": 0o440},
                }
            ],
            annotations=pulumi.Output.from_input(table.version).apply(
                lambda version: {ROUTER_CONFIG_VERSION: version}
            ),
            fs_group=ROUTER_USER_ID,
            node_selector=({ROUTER_NODE_LABEL: "true"} if self.node_pools().router_nodes else None),
            node_loss_toleration_s=self.node_loss_toleration_s,
        )
        deployment = k8s.apps.v1.Deployment(
            f"{resource_name}-router",
            metadata={
                "name": name,
                "namespace": namespace,
                "labels": router.labels,
                "annotations": SKIP_AWAIT,
            },
            spec=deployment_spec(name, ROUTER_REPLICAS, template),
            opts=self._opts(opts),
        )
        return RouterRollout(
            f"{resource_name}-rollout",
            RouterRolloutArgs(
                kubeconfig=self.kubeconfig,
                namespace=namespace,
                deployment=name,
                generation=deployment.metadata.generation,
                timeout_s=ROUTER_READY_TIMEOUT_S,
                what=f"router of {table.endpoint}",
                endpoint=table.endpoint,
                version=table.version,
                summary=table.summary,
                traffic=table.traffic,
                mirror_traffic=table.mirror_traffic,
                health_url=pulumi.Output.concat(router.base_url, HEALTH_PATH),
            ),
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[deployment])),
        )

    def runtime(self) -> KubernetesRuntime:
        return KubernetesRuntime(self.kubeconfig)
