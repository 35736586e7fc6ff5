"""The router's nginx.conf rendering: never open, never carrying a value out of its place."""

from __future__ import annotations

import dataclasses

import pytest

from modelpack.router import (
    RouterConfig,
    RouterConfigError,
    Upstream,
    render_closed_conf,
    render_nginx_conf,
)
from modelpack.router.config import BALANCED_SERVER_PICKS

KEYS = ["A" * 43, "B" * 43]
CONFIG = RouterConfig(
    endpoint="sklearn-regression-online",
    upstreams=[Upstream("blue", ["mp-dev-blue-0:5001"])],
    traffic={"blue": 100},
    keys=KEYS,
)


@pytest.mark.parametrize("auth_mode", ["key", "aml_token"])
def test_an_auth_endpoint_without_keys_is_an_error_not_an_open_router(auth_mode: str) -> None:
    with pytest.raises(RouterConfigError, match="none"):
        render_nginx_conf(dataclasses.replace(CONFIG, keys=[], auth_mode=auth_mode))


@pytest.mark.parametrize("auth_mode", ["key", "aml_token"])
def test_every_auth_mode_renders_a_check(auth_mode: str) -> None:
    conf = render_nginx_conf(dataclasses.replace(CONFIG, auth_mode=auth_mode))
    assert 'if ($authorized = "0")' in conf


def test_an_unknown_auth_mode_is_an_error() -> None:
    with pytest.raises(RouterConfigError, match="auth_mode"):
        render_nginx_conf(dataclasses.replace(CONFIG, auth_mode="none"))


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": 'x"; } server { listen 9; } #'},
        {"endpoint": "sklearn-regression-online\n"},
        {"traffic": {"blue\n": 100}},
        {"mirror_traffic": {"blue; }": 10}},
        {"upstreams": [Upstream("blue;", ["mp-dev-blue-0:5001"])]},
        {"upstreams": [Upstream("blue", ["mp-dev-blue-0:5001; server evil:80"])]},
        {"keys": ['k" 1; default 1; #' + "a" * 20]},
        {"version": "v'; return 200"},
    ],
)
def test_values_that_would_escape_their_place_in_nginx_conf_are_refused(change: dict) -> None:
    with pytest.raises(RouterConfigError):
        render_nginx_conf(dataclasses.replace(CONFIG, **change))


def test_the_token_lifetime_limit_reaches_the_router() -> None:
    conf = render_nginx_conf(
        dataclasses.replace(CONFIG, auth_mode="aml_token", max_token_lifetime_s=7200)
    )
    assert 'map $host $token_max_lifetime { default "7200"; }' in conf


def test_the_bootstrap_configuration_lets_nothing_through() -> None:
    conf = render_closed_conf("sklearn-regression-online")
    assert "proxy_pass" not in conf
    assert "return 503" in conf
    with pytest.raises(RouterConfigError):
        render_closed_conf("bad\nname")


def test_a_balanced_server_is_retried_on_fresh_picks_and_never_marked_down() -> None:
    balanced = dataclasses.replace(
        CONFIG, upstreams=[Upstream("blue", ["10.96.0.7:5001"], balanced=True)]
    )
    conf = render_nginx_conf(balanced)
    assert conf.count("server 10.96.0.7:5001 max_fails=0;") == BALANCED_SERVER_PICKS
    assert f"proxy_next_upstream_tries {BALANCED_SERVER_PICKS};" in conf
    assert "keepalive_time 2s;" in conf.split("upstream", 1)[1]
    # Replicas addressed one by one: each is marked down after a failure, three tries.
    conf = render_nginx_conf(CONFIG)
    assert "max_fails=0" not in conf
    assert "proxy_next_upstream_tries 3;" in conf
