"""Changing a live endpoint's `auth_mode` reaches its router: after the `up`, the old kind of
credential is refused and the new one accepted, in both directions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelpack.cli import tokens
from tests.support.deployed import deployed_workspace
from tests.support.endpoint_auth import ENDPOINT, TokenEndpoint, token_workspace

pytestmark = pytest.mark.real

DAY_S = 24 * 3600


def set_auth_mode(workspace: Path, auth_mode: str) -> None:
    path = workspace / "endpoint.yml"
    path.write_text(re.sub(r"auth_mode: \w+", f"auth_mode: {auth_mode}", path.read_text()))


def test_an_auth_mode_change_is_applied_to_the_live_router(tmp_path: Path) -> None:
    workspace = token_workspace(tmp_path / "workspace", "key")
    with deployed_workspace(tmp_path, "auth", workspace) as deployed:
        endpoint = TokenEndpoint(deployed)
        keys, url = endpoint.keys, endpoint.url

        def token(lifetime_s: int = 3600) -> str:
            return tokens.mint(ENDPOINT, keys["primary"], lifetime_s).access_token

        assert endpoint.status(keys["primary"]) == 200
        assert endpoint.status(token()) == 401

        set_auth_mode(workspace, "aml_token")
        deployed.up()
        endpoint.refresh()
        assert endpoint.url == url and endpoint.keys == keys
        assert endpoint.status(keys["primary"]) == 401, "the old key still gets through"
        assert endpoint.status(keys["secondary"]) == 401
        assert endpoint.status(token()) == 200
        # The default maximum token lifetime is 24 h.
        assert endpoint.status(token(DAY_S - 3600)) == 200
        assert endpoint.status(token(DAY_S + 3600)) == 401

        set_auth_mode(workspace, "key")
        deployed.up()
        endpoint.refresh()
        assert endpoint.url == url
        assert endpoint.status(token()) == 401, "a token still gets through"
        assert endpoint.status(keys["primary"]) == 200
        assert endpoint.status(keys["secondary"]) == 200
