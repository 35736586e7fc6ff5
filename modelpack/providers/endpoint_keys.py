"""Endpoint keys: a primary and a secondary key, kept as Pulumi secrets.

Each key has a generation number (stack config); raising it regenerates that key alone, so a
client can move to the other key first and no request is refused during a rotation.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from .diff import diff_inputs, props_of

KEY_BYTES = 32


class EndpointKeysProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = {
            **props,
            "primary_key": secrets.token_urlsafe(KEY_BYTES),
            "secondary_key": secrets.token_urlsafe(KEY_BYTES),
        }
        return CreateResult(f"keys-{props['endpoint']}", outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A raised generation regenerates that key in place (update); another endpoint's keys
        # are new keys.
        return diff_inputs(EndpointKeysArgs, olds, news, replace=("endpoint",))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)  # the state is where the keys live

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outs = {**news, "primary_key": olds["primary_key"], "secondary_key": olds["secondary_key"]}
        for which in ("primary", "secondary"):
            if olds.get(f"{which}_generation") != news.get(f"{which}_generation"):
                outs[f"{which}_key"] = secrets.token_urlsafe(KEY_BYTES)
        return UpdateResult(outs)


@dataclass
class EndpointKeysArgs:
    endpoint: str
    primary_generation: int = 0
    secondary_generation: int = 0
    """Raising a generation (stack config `keyGenerations`) regenerates that key alone."""


class EndpointKeys(Resource, module="endpoint", name="Keys"):
    primary_key: pulumi.Output[str]
    secondary_key: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: EndpointKeysArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["primary_key", "secondary_key"])
        )
        props = props_of(args, primary_key=None, secondary_key=None)
        super().__init__(EndpointKeysProvider(), resource_name, props, opts)
