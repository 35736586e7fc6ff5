"""One deployed endpoint of the example workspace (blue alone), and requests to it with a
given bearer credential: for the tests of key and aml_token authentication."""

from __future__ import annotations

from pathlib import Path

import httpx

from .deployed import DeployedWorkspace
from .project import copy_example_assets

ENDPOINT = "sklearn-regression-online"


def token_workspace(destination: Path, auth_mode: str) -> Path:
    """The example with blue alone behind an endpoint of `auth_mode`."""
    workspace = copy_example_assets(destination)
    (workspace / "green.yml").unlink()
    (workspace / "endpoint.yml").write_text(
        f"name: {ENDPOINT}\nauth_mode: {auth_mode}\ntraffic:\n  blue: 100\n"
    )
    return workspace


class TokenEndpoint:
    """The endpoint's scoring URI and keys as of the last `refresh()` (done at creation)."""

    def __init__(self, deployed: DeployedWorkspace) -> None:
        self.deployed = deployed
        self.body = (deployed.workspace / "sample-request.json").read_bytes()
        self.refresh()

    def refresh(self) -> None:
        outputs = self.deployed.stack.outputs(show_secrets=True)
        self.url: str = outputs["endpoints"][ENDPOINT]["scoring_uri"]
        self.keys: dict[str, str] = outputs["endpoint_keys"][ENDPOINT]

    def status(self, bearer: str | None) -> int:
        headers = {"content-type": "application/json"}
        if bearer is not None:
            headers["authorization"] = f"Bearer {bearer}"
        return httpx.post(self.url, content=self.body, headers=headers).status_code
