"""A user-defined bridge network that deployments and routers join; an internal one (no
gateway, so no route out) for deployments whose egress is disabled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import docker.errors
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from modelpack.providers.diff import diff_inputs, props_of

from .client import engine


class NetworkProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        network = engine().networks.create(
            props["name"],
            driver="bridge",
            labels=props.get("labels") or {},
            internal=bool(props.get("internal")),
        )
        return CreateResult(network.id, {**props, "network_id": network.id})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Replaced delete-first: the new network takes the same name.
        return diff_inputs(NetworkArgs, olds, news, delete_before_replace=True)

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


@dataclass
class NetworkArgs:
    name: pulumi.Input[str]
    labels: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    internal: bool | None = None
    """True: an internal bridge, with no route out (None, not False, for an ordinary one, so
    that networks created before this input existed keep their state)."""


class Network(Resource, module="docker", name="Network"):
    network_id: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(
        self, resource_name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(NetworkProvider(), resource_name, props_of(args, network_id=None), opts)
