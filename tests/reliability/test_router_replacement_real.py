"""A router keeps its loopback port for its endpoint's life: it can be replaced (its old
container goes first, a brief measured gap), and endpoints added or removed beside it never
move it. The stack uses a fixed modelpack:routerPort, as dev and prod do."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.deployed import DeployedWorkspace, deployed_workspace
from tests.support.endpoint_auth import ENDPOINT, token_workspace
from tests.support.project import free_port

pytestmark = pytest.mark.real

RATE = 20  # requests per second
AAA_ENDPOINT = "name: aaa\nauth_mode: key\ntraffic:\n  blue: 100\n"
AAA_DEPLOYMENT = """\
name: blue
endpoint_name: aaa
environment: azureml:sklearn-regression-online-pkg@latest
instance_type: Standard_F2s_v2
instance_count: 1
"""
HANGING_AAA_DEPLOYMENT = """\
name: blue
endpoint_name: aaa
model: azureml:sklearn-regression@latest
code_configuration:
  code: hanging-src
  scoring_script: score.py
environment: azureml:sklearn-regression-env@latest
instance_type: Standard_F2s_v2
instance_count: 1
readiness_probe:
  initial_delay: 2
  period: 2
  failure_threshold: 4
"""
HANGING_SCORE = """\
import time


def init():
    time.sleep(3600)


def run(raw_data):
    return raw_data
"""


@dataclass
class TimedLoad:
    """RATE requests per second from one keep-alive client, each answer timed."""

    url: str
    body: bytes
    headers: dict[str, str]
    outcomes: list[tuple[float, bool]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            next_at = time.monotonic()
            while not self.stop.is_set():
                try:
                    ok = client.post(self.url, content=self.body, headers=self.headers).is_success
                except httpx.HTTPError:
                    ok = False
                self.outcomes.append((time.monotonic(), ok))
                next_at += 1 / RATE
                time.sleep(max(0.0, next_at - time.monotonic()))

    @property
    def failed(self) -> int:
        return sum(1 for _, ok in self.outcomes if not ok)

    @property
    def longest_gap_ms(self) -> float:
        """The longest time between two successive successful answers."""
        served = [at for at, ok in self.outcomes if ok]
        return max((b - a for a, b in zip(served, served[1:], strict=False)), default=0) * 1000


@dataclass
class Endpoints:
    deployed: DeployedWorkspace

    def outputs(self) -> dict:
        return self.deployed.stack.outputs(show_secrets=True)

    def uri(self, name: str = ENDPOINT) -> str:
        return self.outputs()["endpoints"][name]["scoring_uri"]

    def status(self, name: str = ENDPOINT) -> int:
        outputs = self.outputs()
        key = outputs["endpoint_keys"][name]["primary"]
        answer = httpx.post(
            outputs["endpoints"][name]["scoring_uri"],
            content=(self.deployed.workspace / "sample-request.json").read_bytes(),
            headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
        )
        return answer.status_code

    def router_urn(self) -> str:
        state = json.loads(self.deployed.stack.run("stack", "export").stdout)
        (urn,) = [
            resource["urn"]
            for resource in state["deployment"]["resources"]
            if resource["urn"].endswith(f"::{ENDPOINT}-router")
        ]
        return urn


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    root = tmp_path_factory.mktemp("router-port")
    workspace = token_workspace(root / "workspace", "key")
    config = {"modelpack:routerPort": str(free_port())}
    with deployed_workspace(root, "rport", workspace, **config) as deployed:
        yield Endpoints(deployed)


def test_a_router_replaced_under_load_keeps_its_port_after_a_brief_gap(
    endpoints: Endpoints,
) -> None:
    outputs = endpoints.outputs()
    uri = outputs["endpoints"][ENDPOINT]["scoring_uri"]
    key = outputs["endpoint_keys"][ENDPOINT]["primary"]
    body = (endpoints.deployed.workspace / "sample-request.json").read_bytes()
    load = TimedLoad(
        uri, body, {"content-type": "application/json", "authorization": f"Bearer {key}"}
    )
    thread = threading.Thread(target=load.run, daemon=True)
    thread.start()
    try:
        time.sleep(2)
        endpoints.deployed.stack.run(
            "up", "--yes", "--skip-preview", "--replace", endpoints.router_urn()
        )
        time.sleep(2)
    finally:
        load.stop.set()
        thread.join()
    print(
        f"\nrouter replaced under {RATE} requests/s: {len(load.outcomes)} requests, "
        f"{load.failed} failed, longest gap between answers {load.longest_gap_ms:.0f} ms"
    )
    assert endpoints.uri() == uri
    assert load.outcomes[-1][1], "the replaced router does not answer"
    assert load.longest_gap_ms < 5000
    assert load.failed <= 5 * RATE


def test_adding_then_removing_an_endpoint_that_sorts_first_moves_no_scoring_uri(
    endpoints: Endpoints,
) -> None:
    workspace: Path = endpoints.deployed.workspace
    uri = endpoints.uri()
    (workspace / "aaa.yml").write_text(AAA_ENDPOINT)
    (workspace / "aaa-blue.yml").write_text(AAA_DEPLOYMENT)
    try:
        endpoints.deployed.up()
        assert endpoints.uri() == uri
        assert endpoints.uri("aaa") != uri
        assert endpoints.status() == 200
        assert endpoints.status("aaa") == 200
    finally:
        (workspace / "aaa.yml").unlink()
        (workspace / "aaa-blue.yml").unlink()
    endpoints.deployed.up()
    assert endpoints.uri() == uri
    assert endpoints.status() == 200
    assert "aaa" not in endpoints.outputs()["endpoints"]


def test_a_failed_up_adding_an_endpoint_is_recovered_by_reverting_the_change(
    endpoints: Endpoints,
) -> None:
    workspace: Path = endpoints.deployed.workspace
    uri = endpoints.uri()
    (workspace / "hanging-src").mkdir()
    (workspace / "hanging-src" / "score.py").write_text(HANGING_SCORE)
    (workspace / "aaa.yml").write_text(AAA_ENDPOINT)
    (workspace / "aaa-blue.yml").write_text(HANGING_AAA_DEPLOYMENT)
    try:
        failed = endpoints.deployed.stack.run("up", "--yes", "--skip-preview", check=False)
        assert failed.returncode != 0, "the hanging deployment did not fail the up"
        assert endpoints.status() == 200
    finally:
        for name in ("aaa.yml", "aaa-blue.yml", "hanging-src/score.py", "hanging-src"):
            path = workspace / name
            path.rmdir() if path.is_dir() else path.unlink()
    endpoints.deployed.up()
    assert endpoints.uri() == uri
    assert endpoints.status() == 200
    assert "aaa" not in endpoints.outputs()["endpoints"]
    ports = json.loads((endpoints.deployed.state_dir / "routers" / "ports.json").read_text())
    assert list(ports) == [ENDPOINT]
