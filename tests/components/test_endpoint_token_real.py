"""An `auth_mode: aml_token` endpoint through the real router: only short-lived tokens signed
with one of the endpoint's keys, expiring within the stack's maximum lifetime, get through."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import pytest

from modelpack.cli import commands, keys, tokens
from tests.support.deployed import deployed_workspace
from tests.support.endpoint_auth import ENDPOINT, TokenEndpoint, token_workspace

pytestmark = pytest.mark.real

MAX_LIFETIME_S = 7200


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenEndpoint]:
    root = tmp_path_factory.mktemp("token")
    workspace = token_workspace(root / "workspace", "aml_token")
    config = {"modelpack:maxTokenLifetimeSeconds": str(MAX_LIFETIME_S)}
    with deployed_workspace(root, "tok", workspace, **config) as deployed:
        yield TokenEndpoint(deployed)


def test_only_valid_unexpired_tokens_get_through(endpoint: TokenEndpoint) -> None:
    keys = endpoint.keys
    assert endpoint.status(tokens.mint(ENDPOINT, keys["primary"]).access_token) == 200
    assert endpoint.status(tokens.mint(ENDPOINT, keys["secondary"]).access_token) == 200
    assert endpoint.status(None) == 401
    assert endpoint.status(keys["primary"]) == 401  # keys are signing keys here, not credentials
    assert endpoint.status(tokens.mint(ENDPOINT, keys["primary"], -5).access_token) == 401
    assert endpoint.status(tokens.mint("another-endpoint", keys["primary"]).access_token) == 401
    assert endpoint.status(tokens.mint(ENDPOINT, "not-a-key").access_token) == 401


def test_a_token_living_longer_than_the_maximum_lifetime_is_refused(
    endpoint: TokenEndpoint,
) -> None:
    primary = endpoint.keys["primary"]
    assert endpoint.status(tokens.mint(ENDPOINT, primary, MAX_LIFETIME_S - 60).access_token) == 200
    assert endpoint.status(tokens.mint(ENDPOINT, primary, MAX_LIFETIME_S + 60).access_token) == 401
    assert endpoint.status(tokens.mint(ENDPOINT, primary, 10 * 365 * 86400).access_token) == 401


def test_a_signature_differing_anywhere_is_refused(endpoint: TokenEndpoint) -> None:
    token = tokens.mint(ENDPOINT, endpoint.keys["primary"]).access_token
    expiry, signature = token.split(".")
    flipped = {"A": "B"}.get(signature[-1], "A")
    for forged in (
        f"{expiry}.{flipped}{signature[1:]}",
        f"{expiry}.{signature[:-1]}{flipped}",
        f"{expiry}.{signature[:-1]}",
        f"{expiry}.{signature}A",
        f"{expiry}.",
        f"{int(expiry) - 1}.{signature}",
        f"0{expiry}.{signature}",
        f"{expiry}.{signature}.x",
    ):
        assert endpoint.status(forged) == 401, forged


def get_credentials(endpoint: TokenEndpoint, capsys: pytest.CaptureFixture) -> dict:
    args = argparse.Namespace(name=ENDPOINT, lifetime=3600)
    assert commands._get_credentials(args, endpoint.deployed.runner()) == 0
    return json.loads(capsys.readouterr().out)


def test_get_credentials_prints_a_token_the_router_accepts(
    endpoint: TokenEndpoint, capsys: pytest.CaptureFixture
) -> None:
    answer = get_credentials(endpoint, capsys)
    assert set(answer) == {"accessToken", "tokenType", "expiryTimeUtc", "refreshAfterTimeUtc"}
    assert answer["tokenType"] == "Bearer"
    assert endpoint.status(answer["accessToken"]) == 200


def test_a_token_minted_before_a_secondary_key_rotation_is_still_accepted(
    endpoint: TokenEndpoint, capsys: pytest.CaptureFixture
) -> None:
    before = endpoint.keys
    minted = get_credentials(endpoint, capsys)["accessToken"]
    by_old_secondary = tokens.mint(ENDPOINT, before["secondary"]).access_token
    assert endpoint.status(minted) == endpoint.status(by_old_secondary) == 200

    keys.regenerate(endpoint.deployed.runner(), ENDPOINT, "secondary")
    endpoint.refresh()
    after = endpoint.keys
    assert after["primary"] == before["primary"]
    assert after["secondary"] != before["secondary"]
    assert endpoint.status(minted) == 200
    assert endpoint.status(by_old_secondary) == 401
    assert endpoint.status(tokens.mint(ENDPOINT, after["secondary"]).access_token) == 200
