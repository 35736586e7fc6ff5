"""A user-defined bridge network that deployments and routers join."""

from __future__ import annotations

from typing import Any

import docker.errors
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from .client import engine, replace_on_change

INPUTS = ["name", "labels"]


class NetworkProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        network = engine().networks.create(
            props["name"], driver="bridge", labels=props.get("labels") or {}
        )
        return CreateResult(network.id, {**props, "network_id": network.id})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = replace_on_change(olds, news, INPUTS)
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            engine().networks.get(id_)
        except docker.errors.NotFound:
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        try:
            network = engine().networks.get(id_)
        except docker.errors.NotFound:
            return
        # Containers of this stack only join its own networks; any still attached here were
        # left behind (e.g. by an interrupted `up`) and would keep the network alive.
        for container in network.containers:
            network.disconnect(container, force=True)
        network.remove()


class Network(Resource, module="docker", name="Network"):
    network_id: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        name: pulumi.Input[str],
        labels: pulumi.Input[dict[str, str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            NetworkProvider(),
            resource_name,
            {"name": name, "labels": labels or {}, "network_id": None},
            opts,
        )
