"""Taking the route out away, in a network namespace of the test's own (a veth with a default
route through its far end), by the server's own code run as root in that namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from modelpack.inference_server import egress
from modelpack.inference_server.settings import EgressSettings, SettingsError

GATEWAY, ADDRESS = "172.31.242.1", "172.31.242.2"
POD_NETWORK = "10.244.0.0/16"

# Run inside the namespace: disable egress as the server does, report what is left.
DISABLE = """
import json, os, sys
from modelpack.inference_server import egress
from modelpack.inference_server import egress
from modelpack.inference_server.settings import EgressSettings
allowed = tuple(sys.argv[2:])
egress.disable_egress(EgressSettings(user_id=int(sys.argv[1]), allowed_networks=allowed))
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
try:
    os.setuid(0)
    regained = True
except PermissionError:
    regained = False
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "cap_eff": status["CapEff"].strip(), "cap_prm": status["CapPrm"].strip(),
    "regained_root": regained,
}))
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creates a network namespace")


def run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"mptest-route-{uuid.uuid4().hex[:6]}"
    host_veth = name[-9:] + "h"
    run("ip", "netns", "add", name)
    try:
        run("ip", "link", "add", host_veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        run("ip", "addr", "add", f"{GATEWAY}/24", "dev", host_veth)
        run("ip", "link", "set", host_veth, "up")
        ns = ("ip", "netns", "exec", name)
        run(*ns, "ip", "addr", "add", f"{ADDRESS}/24", "dev", "eth0")
        run(*ns, "ip", "link", "set", "eth0", "up")
        run(*ns, "ip", "route", "add", "default", "via", GATEWAY)
        yield name
    finally:
        subprocess.run(["ip", "link", "del", host_veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def disable_in(namespace: str, user_id: int, *allowed: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", DISABLE, str(user_id), *allowed],
        capture_output=True,
        text=True,
    )


def routes(namespace: str) -> list[str]:
    return run("ip", "netns", "exec", namespace, "ip", "route").splitlines()


@needs_root
def test_the_default_route_goes_and_the_server_keeps_no_capability(namespace):
    result = disable_in(namespace, 1000)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert not [route for route in routes(namespace) if route.startswith("default")]
    assert (state["uid"], state["groups"]) == (1000, [])
    assert state["cap_eff"] == state["cap_prm"] == "0000000000000000"
    assert state["regained_root"] is False


@needs_root
def test_allowed_networks_keep_a_route_through_the_old_gateway(namespace):
    result = disable_in(namespace, 1000, POD_NETWORK)
    assert result.returncode == 0, result.stderr
    left = routes(namespace)
    assert not [route for route in left if route.startswith("default")]
    assert any(route.startswith(f"{POD_NETWORK} via {GATEWAY} dev eth0") for route in left), left


def test_a_server_that_is_not_root_refuses_to_serve(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(egress.EgressError, match="needs the server to start as root"):
        egress.disable_egress(EgressSettings(user_id=1000))


def test_settings_are_read_only_when_egress_is_disabled():
    assert EgressSettings.from_env({"SERVER_USER_ID": "1000"}) is None
    settings = EgressSettings.from_env(
        {
            "EGRESS_DISABLED": "True",
            "SERVER_USER_ID": "1000",
            "EGRESS_ALLOWED_NETWORKS": POD_NETWORK,
        }
    )
    assert settings == EgressSettings(1000, (POD_NETWORK,))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EGRESS_DISABLED": "true"}, "needs SERVER_USER_ID"),
        ({"EGRESS_DISABLED": "true", "SERVER_USER_ID": "0"}, "SERVER_USER_ID must be at least 1"),
        (
            {"EGRESS_DISABLED": "true", "SERVER_USER_ID": "1", "EGRESS_ALLOWED_NETWORKS": "10.1"},
            "EGRESS_ALLOWED_NETWORKS",
        ),
    ],
)
def test_bad_settings_are_refused(env, message):
    with pytest.raises(SettingsError, match=message):
        EgressSettings.from_env(env)
