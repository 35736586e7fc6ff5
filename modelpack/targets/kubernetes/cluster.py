"""Which cluster: the kubeconfig a stack deploys with, and a client of it.

`modelpack:kubeconfig` in a stack file names a kubeconfig; without it the target uses the
cluster that `make setup` runs on this machine (scripts/cluster.sh). The `modelpack` command
reads the same cluster (MODELPACK_KUBECONFIG overrides it there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from ..base import TargetUnavailable

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
"""The well-known node label of a node's machine size (AKS sets it to the VM size): nodes that
carry it form node pools, which deployments are placed in by their instance_type."""


def local_cluster_kubeconfig() -> Path:
    cache = os.environ.get("MODELPACK_CACHE") or Path.home() / ".cache" / "modelpack"
    return Path(cache) / "cluster" / "kubeconfig"


def kubeconfig_path(configured: str | None = None) -> Path:
    chosen = configured or os.environ.get("MODELPACK_KUBECONFIG")
    return Path(chosen).expanduser() if chosen else local_cluster_kubeconfig()


def api_client(kubeconfig: str | Path) -> client.ApiClient:
    """A client of the cluster; TargetUnavailable when it cannot be reached."""
    path = Path(kubeconfig)
    if not path.is_file():
        raise TargetUnavailable(
            f"no kubeconfig at {path}: run `make setup` (it starts the local cluster), or set "
            "modelpack:kubeconfig in the stack file"
        )
    try:
        return config.new_client_from_config(config_file=str(path))
    except config.ConfigException as error:
        raise TargetUnavailable(f"the kubeconfig {path} is not usable: {error}") from None


def reachable(api: client.ApiClient) -> None:
    """Raises TargetUnavailable unless the API server answers."""
    try:
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as error:  # noqa: BLE001 - any failure to connect means the same
        raise TargetUnavailable(
            f"the Kubernetes API server does not answer ({error}); start the local cluster with "
            "`scripts/cluster.sh up` (or `make setup`)"
        ) from None


ROUTER_NODE_LABEL = "modelpack.dev/router"
"""Nodes labelled `modelpack.dev/router=true` run the endpoints' routers: the nodes where
clients' traffic enters (on the local cluster node 0, whose node ports answer on the host's
loopback). Where no node carries it, routers run on any node."""


@dataclass(frozen=True)
class NodePools:
    """What the cluster's node labels say about placement."""

    instance_types: dict[str, int]
    """Instance type -> number of nodes labelled with it (empty: the nodes carry none)."""
    router_nodes: int
    """Nodes labelled to run routers (ROUTER_NODE_LABEL)."""


def node_pools(kubeconfig: str | Path) -> NodePools:
    api = api_client(kubeconfig)
    reachable(api)
    counts: dict[str, int] = {}
    router_nodes = 0
    for node in client.CoreV1Api(api).list_node().items:
        labels = node.metadata.labels or {}
        if value := labels.get(INSTANCE_TYPE_LABEL):
            counts[value] = counts.get(value, 0) + 1
        router_nodes += labels.get(ROUTER_NODE_LABEL) == "true"
    return NodePools(instance_types=counts, router_nodes=router_nodes)
