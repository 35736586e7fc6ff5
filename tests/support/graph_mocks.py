"""Declaring a workspace's graph under Pulumi mocks: every registration recorded with its
inputs, answered with what the real provider would output. For fast tests of graph shape; the
real path is proven by the *_real tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pulumi
import pytest

from components.settings import StackSettings
from components.workspace_graph import WorkspaceGraph, build_graph
from modelpack import names
from modelpack.assets import load_asset_folder
from modelpack.targets.docker.target import DockerTarget
from tests.support.project import copy_example_assets

DIGEST = "sha256:" + "0" * 64
CLUSTER_IP = "10.96.0.10"
NODE_PORT = 30080


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers every registration with its inputs plus what the real provider would output."""

    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources[args.name] = args
        outputs = dict(args.inputs)
        kind = args.typ.rsplit(":", 1)[-1]
        if kind == "ImageRegistry":
            outputs.update(port=18500, address="127.0.0.1:18500", pid=1)
        elif kind == "Image":
            outputs.update(image_id=f"sha256:{args.name}", size_bytes=1, repo_digests=[])
        elif kind == "RegistryImage":
            outputs.update(digest=DIGEST, repo_digest=f"{args.inputs['repository']}@{DIGEST}")
        elif kind == "Container":
            outputs.update(container_id=f"id-{args.name}", container_name=args.inputs["name"])
        elif kind == "RouterPort":
            outputs.update(port=18080)
        elif kind == "Keys":
            outputs.update(primary_key="a" * 43, secondary_key="b" * 43)
        elif args.typ.startswith("kubernetes:"):
            metadata = {**(args.inputs.get("metadata") or {}), "generation": 1, "uid": args.name}
            metadata.setdefault("name", f"{args.name}-auto")
            outputs["metadata"] = metadata
            if kind == "Service":
                spec = dict(args.inputs["spec"])
                spec["clusterIP"] = CLUSTER_IP
                node_port = {"nodePort": NODE_PORT} if spec.get("type") == "NodePort" else {}
                spec["ports"] = [{**port, **node_port} for port in spec["ports"]]
                outputs["spec"] = spec
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    def of_kind(self, kind: str) -> dict[str, pulumi.runtime.MockResourceArgs]:
        """The custom (provider-managed) resources of one kind, by name."""
        return {
            name: resource
            for name, resource in self.resources.items()
            if resource.custom and resource.typ.rsplit(":", 1)[-1] == kind
        }


def unsecret(value):
    """The value of a secret input as the mocks see it (a wrapped secret)."""
    return value["value"] if isinstance(value, dict) and "value" in value else value


def declare(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str = "docker",
    node_pools: dict[str, int] | None = None,
    appended: dict[str, str] | None = None,
    router_nodes: int = 0,
) -> tuple[RecordingMocks, WorkspaceGraph]:
    """(mocks, graph) of the example asset folder declared under mocks on `target`; on
    kubernetes, `node_pools` and `router_nodes` are what the cluster's nodes would say
    (instance type -> nodes; nodes labelled to run routers).
    `appended`: text added to files of the example (file name -> YAML)."""
    # Resources are registered on the current event loop, which a test that ran before (one
    # using asyncio.run) may have closed: each declaration gets a loop of its own.
    asyncio.set_event_loop(asyncio.new_event_loop())
    # The base-image check asks the engine; its answer is not what these tests are about.
    monkeypatch.setattr(DockerTarget, "python_version", lambda self, image: "3.11.2")
    if target == "kubernetes":
        from modelpack.targets.kubernetes.cluster import NodePools
        from modelpack.targets.kubernetes.target import KubernetesTarget

        pools = NodePools(instance_types=dict(node_pools or {}), router_nodes=router_nodes)
        monkeypatch.setattr(KubernetesTarget, "node_pools", lambda self: pools)
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="modelpack", stack="mock", preview=False)
    folder = copy_example_assets(tmp_path / "assets")
    for name, text in (appended or {}).items():
        (folder / name).write_text((folder / name).read_text() + text)
    assets = load_asset_folder(folder)
    settings = StackSettings(
        stack="mock",
        target=target,
        assets=assets.folder,
        state_dir=tmp_path / "state",
        router_port=18080,
        key_generation_table={},
        max_body_bytes=names.DEFAULT_MAX_BODY_BYTES,
        registry_port=18500,
    )
    return mocks, build_graph(assets, settings)


def all_declared(graph: WorkspaceGraph) -> pulumi.Output:
    """Resolves once every leaf resource of the graph has been registered."""
    leaves = [
        *[d.servers for ds in graph.deployments.values() for d in ds.values()],
        *[p.digest for p in graph.packages.values()],
        *[t.router_config.urn for t in graph.traffic.values()],
    ]
    return pulumi.Output.all(*leaves)
