"""Endpoint keys: a primary and a secondary key, kept as Pulumi secrets.

Each key has a generation number (stack config); raising it regenerates that key alone, so a
client can move to the other key first and no request is refused during a rotation.
"""

from __future__ import annotations

import secrets
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

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
        keys = ["primary_generation", "secondary_generation"]
        changed = [key for key in keys if olds.get(key) != news.get(key)]
        replaces = ["endpoint"] if olds.get("endpoint") != news.get("endpoint") else []
        return DiffResult(changes=bool(changed or replaces), replaces=replaces)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outs = {**news, "primary_key": olds["primary_key"], "secondary_key": olds["secondary_key"]}
        for which in ("primary", "secondary"):
            if olds.get(f"{which}_generation") != news.get(f"{which}_generation"):
                outs[f"{which}_key"] = secrets.token_urlsafe(KEY_BYTES)
        return UpdateResult(outs)


class EndpointKeys(Resource, module="endpoint", name="Keys"):
    primary_key: pulumi.Output[str]
    secondary_key: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        endpoint: str,
        primary_generation: int,
        secondary_generation: int,
        opts: pulumi.ResourceOptions,
    ) -> None:
        props = {
            "endpoint": endpoint,
            "primary_generation": primary_generation,
            "secondary_generation": secondary_generation,
            "primary_key": None,
            "secondary_key": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["primary_key", "secondary_key"])
        )
        super().__init__(EndpointKeysProvider(), resource_name, props, opts)
