"""An `auth_mode: aml_token` endpoint through the real router: only short-lived tokens signed
with one of the endpoint's keys get through."""

from __future__ import annotations

import uuid

import httpx
import pytest

from cli import tokens
from tests.support.project import copy_example_workspace, modelpack_stack

pytestmark = pytest.mark.real

ENDPOINT = "sklearn-regression-online"


def test_only_valid_unexpired_tokens_get_through(tmp_path) -> None:
    workspace = copy_example_workspace(tmp_path / "workspace")
    (workspace / "green.yml").unlink()
    (workspace / "endpoint.yml").write_text(
        f"name: {ENDPOINT}\nauth_mode: aml_token\ntraffic:\n  blue: 100\n"
    )
    stack = modelpack_stack(tmp_path, f"tok{uuid.uuid4().hex[:6]}", workspace)
    stack.up()
    try:
        outputs = stack.outputs(show_secrets=True)
        url = outputs["endpoints"][ENDPOINT]["scoring_uri"]
        keys = outputs["endpoint_keys"][ENDPOINT]
        body = (workspace / "sample-request.json").read_bytes()

        def status(bearer: str | None) -> int:
            headers = {"content-type": "application/json"}
            if bearer is not None:
                headers["authorization"] = f"Bearer {bearer}"
            return httpx.post(url, content=body, headers=headers).status_code

        assert status(tokens.mint(ENDPOINT, keys["primary"]).access_token) == 200
        assert status(tokens.mint(ENDPOINT, keys["secondary"]).access_token) == 200
        assert status(None) == 401
        assert status(keys["primary"]) == 401  # keys are signing keys here, not credentials
        assert status(tokens.mint(ENDPOINT, keys["primary"], lifetime_s=-5).access_token) == 401
        assert status(tokens.mint("another-endpoint", keys["primary"]).access_token) == 401
        assert status(tokens.mint(ENDPOINT, "not-a-key").access_token) == 401
    finally:
        stack.destroy()
