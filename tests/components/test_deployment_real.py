"""A deployment's day-two settings on a real stack (Docker target): data collection into the
workspace's store, and disabled egress.

- blue records half its requests (`sampling_rate: 0.5`, all four collections): 1,000 requests
  through the endpoint give 500 ± 5% records of each, joined by the request id the router gave;
- ro collects into a store that refuses writes (a read-only tmpfs mounted where its folder
  goes): every request answers 200, and its replica counts the dropped records;
- green has `egress_public_network_access: disabled`: its replica is only on the endpoint's
  internal network, has no default route (after a restart too), and cannot reach a listener
  that the test runs in a network namespace of its own, which blue's replica reaches; the
  endpoint's router still reaches green.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import httpx
import pytest

from modelpack import names
from modelpack.builds.layout import USER_ID
from tests.support.deployed import DeployedWorkspace, deployed_workspace
from tests.support.endpoint_client import EndpointClient
from tests.support.project import DEPLOYMENT, PORTABLE_PACKAGE, copy_portable_assets

pytestmark = pytest.mark.real

ENDPOINT = "sklearn-regression-online"
COLLECT_HALF = """\
data_collector:
  collections:
    model_inputs: {enabled: 'True'}
    model_outputs: {enabled: 'True'}
    request: {enabled: 'True'}
    response: {enabled: 'True'}
  sampling_rate: 0.5
"""
COLLECT_ALL = """\
data_collector:
  collections:
    model_inputs: {enabled: 'True'}
"""
NO_EGRESS = "egress_public_network_access: disabled\n"
# A network namespace of the test's own, with a listener: "outside the endpoint's network".
NAMESPACE = f"mptest-egress-{uuid.uuid4().hex[:4]}"
HOST_END, LISTENER = "172.31.240.1", "172.31.240.2"
LISTENER_PORT = 18999
# Run inside a replica by `docker exec`: connect to the listener, print the outcome.
CONNECT = f"""
import socket
try:
    socket.create_connection(("{LISTENER}", {LISTENER_PORT}), timeout=3).close()
    print("connected")
except OSError as error:
    print(f"refused: {{error}}")
"""
READY = """
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:5001/readyz").status)
"""
METRICS = """
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:5001/metrics").read().decode())
"""


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


@contextlib.contextmanager
def listener_namespace() -> Iterator[None]:
    """A namespace with a veth to the host (172.31.240.0/30) and an HTTP listener in it."""
    host_veth = NAMESPACE[-8:] + "h"
    run("ip", "netns", "add", NAMESPACE)
    server = None
    try:
        run(
            "ip",
            "link",
            "add",
            host_veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            NAMESPACE,
        )
        run("ip", "addr", "add", f"{HOST_END}/30", "dev", host_veth)
        run("ip", "link", "set", host_veth, "up")
        ns = ("ip", "netns", "exec", NAMESPACE)
        run(*ns, "ip", "addr", "add", f"{LISTENER}/30", "dev", "eth0")
        run(*ns, "ip", "link", "set", "eth0", "up")
        run(*ns, "ip", "link", "set", "lo", "up")
        server = subprocess.Popen(
            [*ns, "python3", "-m", "http.server", "--bind", LISTENER, str(LISTENER_PORT)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", host_veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True)


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder))
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    root = tmp_path_factory.mktemp("day-two")
    workspace = copy_portable_assets(root / "workspace")
    (workspace / "blue.yml").write_text((workspace / "blue.yml").read_text() + COLLECT_HALF)
    (workspace / "green.yml").write_text((workspace / "green.yml").read_text() + NO_EGRESS)
    ro = DEPLOYMENT.format(name="ro", package=PORTABLE_PACKAGE) + COLLECT_ALL
    (workspace / "ro.yml").write_text(ro)
    store = root / "state" / names.DATA_COLLECTOR_FOLDER
    with (
        read_only_folder(store / ENDPOINT / "ro"),
        listener_namespace(),
        deployed_workspace(root, "day2", workspace) as stack,
    ):
        yield stack


def replica(stack: DeployedWorkspace, deployment: str):
    [container] = docker.from_env().containers.list(
        filters={
            "label": [
                f"{names.LABEL_STACK}={stack.name}",
                f"{names.LABEL_DEPLOYMENT}={deployment}",
            ]
        }
    )
    return container


def ready(container) -> bool:
    result = container.exec_run(["python3", "-c", READY])
    return result.exit_code == 0 and result.output.decode().strip() == "200"


def exec_python(container, source: str) -> str:
    result = container.exec_run(["python3", "-c", source])
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode()


def score(stack: DeployedWorkspace, deployment: str, count: int) -> list[httpx.Response]:
    endpoint = EndpointClient(stack.stack, stack.workspace)
    headers = endpoint.headers(**{"azureml-model-deployment": deployment})
    with httpx.Client(timeout=30) as client:

        def one(_: int) -> httpx.Response:
            return client.post(endpoint.url, content=endpoint.body, headers=headers)

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(count)))


def records(folder: Path) -> dict[str, dict]:
    found = {}
    for path in folder.rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            found[record["correlationid"]] = record
    return found


def test_half_of_1000_requests_are_recorded_and_join_on_the_routers_request_id(deployed):
    answers = score(deployed, "blue", 1000)
    assert [a.status_code for a in answers] == [200] * 1000
    given_ids = {a.headers["x-request-id"] for a in answers}
    assert len(given_ids) == 1000

    folder = deployed.state_dir / names.DATA_COLLECTOR_FOLDER / ENDPOINT / "blue"
    collections = settled(folder)
    assert set(collections) == {"model_inputs", "model_outputs", "request", "response"}
    inputs, outputs = collections["model_inputs"], collections["model_outputs"]
    assert 475 <= len(inputs) <= 525, len(inputs)
    assert inputs.keys() == outputs.keys() == collections["request"].keys()
    assert inputs.keys() <= given_ids
    sample = json.loads((deployed.workspace / "sample-request.json").read_text())
    by_id = {a.headers["x-request-id"]: a.json() for a in answers}
    for request_id, record in inputs.items():
        assert record["data"] == sample
        assert outputs[request_id]["data"] == by_id[request_id]
    # Azure ML's layout: <collection>/<yyyy>/<MM>/<dd>/<HH>/<file>.jsonl
    for path in (folder / "model_inputs").rglob("*.jsonl"):
        parts = path.relative_to(folder / "model_inputs").parts
        assert [len(part) for part in parts[:-1]] == [4, 2, 2, 2], parts


def settled(folder: Path) -> dict[str, dict[str, dict]]:
    """Each collection's records by request id, once no more arrive (each request was queued
    before it was answered; the writer catches up within milliseconds)."""
    previous: dict[str, dict[str, dict]] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        found = {child.name: records(child) for child in sorted(folder.iterdir()) if child.is_dir()}
        counts = {name: len(found[name]) for name in found}
        if found and counts == {name: len(previous.get(name, {})) for name in found}:
            return found
        previous = found
    raise AssertionError(f"records still arriving after 10 s: {counts}")


def test_a_read_only_store_answers_200_and_counts_the_dropped_records(deployed):
    answers = score(deployed, "ro", 50)
    assert [a.status_code for a in answers] == [200] * 50
    metrics = exec_python(replica(deployed, "ro"), METRICS)
    dropped = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("inference_data_collection_dropped_total{")
        and 'reason="write_failed"' in line
    ]
    assert sum(dropped) > 0, metrics


def default_routes(container) -> list[str]:
    """The container's IPv4 routes to anywhere, from /proc/net/route (no `ip` in images)."""
    table = exec_python(container, "print(open('/proc/net/route').read())")
    return [line for line in table.splitlines()[1:] if line.split()[1:2] == ["00000000"]]


def server_identity(container) -> tuple[str, str]:
    """(real uid, effective capabilities) of the replica's server, process 1."""
    status = exec_python(container, "print(open('/proc/1/status').read())")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return fields["Uid"].split()[0], fields["CapEff"].strip()


def test_disabled_egress_leaves_no_way_out(deployed):
    green, blue = replica(deployed, "green"), replica(deployed, "blue")
    isolated = f"mp-{deployed.name}-{ENDPOINT}-isolated"
    assert list(green.attrs["NetworkSettings"]["Networks"]) == [isolated]
    network = docker.from_env().networks.get(isolated)
    assert network.attrs["Internal"] is True
    # Docker gives containers of an internal network a default route too; green's server
    # deleted it as it started, then gave up root and every capability.
    assert default_routes(green) == []
    assert default_routes(blue) != []
    assert server_identity(green) == (str(USER_ID), "0000000000000000")
    assert exec_python(green, CONNECT).startswith("refused"), "green reached the listener"
    assert exec_python(blue, CONNECT).strip() == "connected"
    # The router still reaches green.
    assert [a.status_code for a in score(deployed, "green", 5)] == [200] * 5


def test_disabled_egress_survives_a_restart(deployed):
    """Docker puts the default route back when it restarts a container: the server deletes
    it again on every start."""
    green = replica(deployed, "green")
    green.restart(timeout=10)
    deadline = time.monotonic() + 60
    while not ready(green):
        assert time.monotonic() < deadline, "green is not ready a minute after its restart"
        time.sleep(0.5)
    assert default_routes(green) == []
    assert server_identity(green) == (str(USER_ID), "0000000000000000")
    assert [a.status_code for a in score(deployed, "green", 5)] == [200] * 5
