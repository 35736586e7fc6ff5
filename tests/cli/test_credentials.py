"""`get-credentials` answers as `az ml online-endpoint get-credentials` does; token minting."""

from __future__ import annotations

import argparse
import json
import time

import pytest

from modelpack.cli import commands, tokens
from modelpack.cli.errors import CliError
from modelpack.cli.outputs import EndpointKeys, EndpointOutputs, StackOutputs


class FakeRunner:
    ws = "dev"

    def __init__(self, endpoint: EndpointOutputs, config: dict | None = None) -> None:
        self.endpoint, self._config = endpoint, config or {}

    def config(self) -> dict:
        return self._config


def endpoint(auth_mode: str) -> EndpointOutputs:
    return EndpointOutputs(
        name="sklearn-regression-online",
        scoring_uri="http://127.0.0.1:1/score",
        swagger_uri="",
        auth_mode=auth_mode,
        traffic={},
        mirror_traffic={},
        deployments={},
        keys=EndpointKeys("p" * 43, "s" * 43),
    )


def credentials(monkeypatch, capsys, auth_mode: str, lifetime: int, config=None) -> dict:
    target = endpoint(auth_mode)
    monkeypatch.setattr(
        commands,
        "load_outputs",
        lambda runner, show_secrets=False: StackOutputs("dev", {target.name: target}),
    )
    args = argparse.Namespace(name=target.name, lifetime=lifetime)
    assert commands._get_credentials(args, FakeRunner(target, config)) == 0
    return json.loads(capsys.readouterr().out)


def test_get_credentials_of_a_key_endpoint_prints_both_keys(monkeypatch, capsys) -> None:
    answer = credentials(monkeypatch, capsys, "key", 3600)
    assert answer == {"primaryKey": "p" * 43, "secondaryKey": "s" * 43}


def test_get_credentials_of_a_token_endpoint_prints_a_token_like_az_ml(monkeypatch, capsys) -> None:
    before = int(time.time())
    answer = credentials(monkeypatch, capsys, "aml_token", 3600)
    assert set(answer) == {"accessToken", "tokenType", "expiryTimeUtc", "refreshAfterTimeUtc"}
    assert answer["tokenType"] == "Bearer"
    assert before + 3600 <= answer["expiryTimeUtc"] <= int(time.time()) + 3600
    assert before < answer["refreshAfterTimeUtc"] < answer["expiryTimeUtc"]
    expiry, signature = answer["accessToken"].split(".")
    assert int(expiry) == answer["expiryTimeUtc"]
    # Minted with the primary key, so that rotating the secondary leaves it valid.
    assert signature == tokens.sign("sklearn-regression-online", "p" * 43, int(expiry))


def test_get_credentials_refuses_a_lifetime_over_the_stacks_maximum(monkeypatch, capsys) -> None:
    config = {tokens.MAX_LIFETIME_KEY: {"value": "600", "secret": False}}
    with pytest.raises(CliError, match="longer than the stack's maximum"):
        credentials(monkeypatch, capsys, "aml_token", 601, config)
    assert credentials(monkeypatch, capsys, "aml_token", 600, config)["accessToken"]
    with pytest.raises(CliError, match="24|86400"):
        credentials(monkeypatch, capsys, "aml_token", 86401)
    with pytest.raises(CliError, match="positive"):
        credentials(monkeypatch, capsys, "aml_token", 0)
