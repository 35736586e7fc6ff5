"""Calling a deployed stack's endpoint the way a client does: its scoring URI and keys read
from the stack's outputs, the workspace's sample request as the body."""

from __future__ import annotations

from pathlib import Path

import httpx

from .pulumi_cli import Stack

ENDPOINT = "sklearn-regression-online"


class EndpointClient:
    def __init__(self, stack: Stack, workspace: Path, endpoint: str = ENDPOINT) -> None:
        self.stack, self.workspace, self.endpoint_name = stack, workspace, endpoint
        self.refresh_outputs()

    def refresh_outputs(self) -> None:
        outputs = self.stack.outputs(show_secrets=True)
        self.endpoint = outputs["endpoints"][self.endpoint_name]
        self.keys = outputs["endpoint_keys"][self.endpoint_name]
        self.url = self.endpoint["scoring_uri"]

    @property
    def body(self) -> bytes:
        return (self.workspace / "sample-request.json").read_bytes()

    def headers(self, key: str | None = "primary", **extra: str) -> dict[str, str]:
        """`key`: primary, secondary, a key itself, or None for no credentials."""
        headers = {"content-type": "application/json", **extra}
        if key:
            headers["authorization"] = f"Bearer {self.keys.get(key, key)}"
        return headers

    def score(self, client: httpx.Client, **headers: str) -> httpx.Response:
        return client.post(self.url, content=self.body, headers=self.headers(**headers))

    def edit(self, name: str, replace: tuple[str, str]) -> None:
        """Replace text in a file of the workspace (which must hold it)."""
        path = self.workspace / name
        text = path.read_text()
        assert replace[0] in text, f"{replace[0]!r} not in {name}"
        path.write_text(text.replace(*replace))
