"""The Kubernetes target through the real path: `pulumi up` of the example workspace with
`modelpack:target: kubernetes`, through the pulumi-kubernetes provider, onto the local cluster
that `make setup` starts (scripts/cluster.sh); real HTTP from the host to the router's node
port on 127.0.0.1."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import httpx
import joblib
import numpy
import pytest
from kubernetes import client
from kubernetes.stream import stream

from modelpack import names
from modelpack.builds.layout import USER_ID
from modelpack.cli import keys
from modelpack.cli.endpoints import endpoint_statuses, invoke, render_statuses
from modelpack.cli.logs import replica_logs
from modelpack.cli.outputs import load_outputs
from modelpack.cli.preview_summary import parse_preview, render_markdown
from modelpack.cli.pulumi_runner import PulumiRunner
from modelpack.cli.workspaces import Workspace
from modelpack.targets.kubernetes.cluster import api_client, kubeconfig_path
from modelpack.targets.kubernetes.naming import namespace_for
from tests.support.endpoint_client import EndpointClient
from tests.support.load import SteadyLoad
from tests.support.project import copy_example_assets, free_port, modelpack_stack
from tests.support.pulumi_cli import PASSPHRASE

pytestmark = pytest.mark.real

ENDPOINT = "sklearn-regression-online"
SPLIT = ("  blue: 80\n  green: 20\n", "  blue: 0\n  green: 100\n")


class Deployed(EndpointClient):
    def __init__(self, stack, workspace: Path, runner: PulumiRunner) -> None:
        super().__init__(stack, workspace)
        self.runner = runner
        self.namespace = namespace_for(stack.name)
        api = api_client(kubeconfig_path())
        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)

    def pods(self, deployment: str) -> list:
        selector = f"modelpack.stack={self.stack.name},modelpack.deployment={deployment}"
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=selector).items
        return [pod for pod in pods if pod.metadata.deletion_timestamp is None]

    def ready_pods(self, deployment: str) -> list:
        return [
            pod
            for pod in self.pods(deployment)
            if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        ]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("kubernetes")
    workspace = copy_example_assets(root / "workspace")
    # Two blue replicas, so that one can be deleted while the other serves.
    (workspace / "blue.yml").write_text(
        (workspace / "blue.yml").read_text().replace("instance_count: 1", "instance_count: 2")
    )
    # Green sized by Azure ML's Kubernetes `resources:` block instead of its instance type.
    (workspace / "green.yml").write_text(
        (workspace / "green.yml").read_text()
        + "resources:\n  requests: {cpu: 250m, memory: 256Mi}\n  limits: {cpu: '1', memory: 1Gi}\n"
        # Green records what it is asked and answers, into the workspace's store on the host.
        + "data_collector:\n  collections:\n    model_inputs: {enabled: 'True'}\n"
        + "    model_outputs: {enabled: 'True'}\n"
        # And has no route out of the cluster's pod network.
        + "egress_public_network_access: disabled\n"
    )
    name = f"k8s{uuid.uuid4().hex[:6]}"
    stack = modelpack_stack(
        root,
        name,
        workspace,
        **{"modelpack:target": "kubernetes", "modelpack:registryPort": str(free_port())},
    )
    runner = PulumiRunner(
        Workspace(
            name=name,
            project_dir=stack.project_dir,
            backend_url=stack.backend_dir.as_uri(),
            backend_source="test",
            state_dir=root / "state",
        ),
        {**os.environ, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE},
    )
    started = time.monotonic()
    first_up = stack.up()
    print(f"first up of the example on kubernetes: {time.monotonic() - started:.1f} s")
    deployed = Deployed(stack, workspace, runner)
    deployed.first_up_output = first_up.stdout + first_up.stderr
    try:
        yield deployed
    finally:
        stack.destroy()
        # Nothing of the workspace is left: its namespace is gone with everything in it.
        selector = f"modelpack.stack={name}"
        assert deployed.core.list_pod_for_all_namespaces(label_selector=selector).items == []
        assert deployed.core.list_service_for_all_namespaces(label_selector=selector).items == []
        assert deployed.core.list_secret_for_all_namespaces(label_selector=selector).items == []
        namespaces = deployed.core.list_namespace().items
        assert deployed.namespace not in {ns.metadata.name for ns in namespaces}


def expected_predictions(workspace: Path) -> list[float]:
    model = joblib.load(workspace / "model" / "sklearn_regression_model.pkl")
    rows = json.loads((workspace / "sample-request.json").read_text())["data"]
    return model.predict(numpy.array(rows)).tolist()


def test_the_example_answers_with_the_models_predictions_on_loopback(deployed: Deployed) -> None:
    assert deployed.url.startswith("http://127.0.0.1:")
    expected = expected_predictions(deployed.workspace)
    with httpx.Client() as http:
        for deployment in ("blue", "green"):
            answer = deployed.score(http, **{"azureml-model-deployment": deployment})
            assert answer.status_code == 200
            assert answer.headers["azureml-model-deployment"] == deployment
            # The same numbers the Docker target answers (tests/components/test_endpoint_real).
            assert answer.json() == pytest.approx(expected, abs=1e-6)
        assert deployed.score(http, key=None).status_code == 401
        assert deployed.score(http, key="secondary").status_code == 200


def test_each_deployment_is_a_hardened_deployment_with_its_instance_type(
    deployed: Deployed,
) -> None:
    blue = deployed.apps.read_namespaced_deployment(
        "sklearn-regression-online-blue", deployed.namespace
    )
    assert blue.spec.replicas == 2
    assert blue.spec.strategy.rolling_update.max_unavailable == 0
    (container,) = blue.spec.template.spec.containers
    assert container.image.startswith("127.0.0.1:") and "@sha256:" in container.image
    # Standard_DS3_v2 (4 vCPUs, 14 GiB) on this host's 2 CPUs; a tenth of it requested.
    assert container.resources.limits == {"cpu": "2", "memory": "14Gi"}
    assert container.resources.requests == {"cpu": "200m", "memory": "1434Mi"}
    assert container.readiness_probe.http_get.path == "/readyz"
    assert container.readiness_probe.period_seconds == 10  # Azure ML's default
    assert container.liveness_probe.failure_threshold == 30
    security = container.security_context
    assert security.capabilities.drop == ["ALL"]
    assert security.allow_privilege_escalation is False
    assert security.read_only_root_filesystem is True
    # Request timeout 5 s (Azure ML's default): at least 10 s to finish, plus the drain.
    assert blue.spec.template.spec.termination_grace_period_seconds == 15
    assert blue.spec.template.spec.automount_service_account_token is False
    for pod in deployed.ready_pods("blue"):
        assert pod.status.container_statuses[0].ready
    green = deployed.apps.read_namespaced_deployment(
        "sklearn-regression-online-green", deployed.namespace
    )
    (container,) = green.spec.template.spec.containers
    assert container.resources.requests == {"cpu": "250m", "memory": "256Mi"}
    assert container.resources.limits == {"cpu": "1", "memory": "1Gi"}


def test_green_collects_its_inputs_and_outputs_into_the_workspace_store(
    deployed: Deployed,
) -> None:
    with httpx.Client() as http:
        answers = [deployed.score(http, **{"azureml-model-deployment": "green"}) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] * 20
    wanted = {a.headers["x-request-id"] for a in answers}
    store = deployed.stack.project_dir.parent / "state" / names.DATA_COLLECTOR_FOLDER
    folder = store / ENDPOINT / "green"

    def collected(collection: str) -> set[str]:
        return {
            json.loads(line)["correlationid"]
            for path in (folder / collection).rglob("*.jsonl")
            for line in path.read_text().splitlines()
        }

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not wanted <= collected("model_outputs"):
        time.sleep(0.2)
    assert wanted <= collected("model_inputs")
    assert wanted <= collected("model_outputs")


def pod_exec(deployed: Deployed, pod, source: str) -> str:
    return stream(
        deployed.core.connect_get_namespaced_pod_exec,
        pod.metadata.name,
        deployed.namespace,
        command=["python3", "-c", source],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )


ROUTES = "print(open('/proc/net/route').read())"
SERVER_STATUS = "print(open('/proc/1/status').read())"
# Connects nowhere: with no route, the kernel refuses before a packet leaves the pod.
CONNECT_OUT = """
import socket
try:
    socket.create_connection(("172.31.240.2", 18999), timeout=3).close()
    print("connected")
except OSError as error:
    print(f"refused: {error}")
"""


def routes_to(deployed: Deployed, pod) -> list[tuple[str, str]]:
    """(destination, mask) of each IPv4 route of the pod, in hex as /proc/net/route has them."""
    table = pod_exec(deployed, pod, ROUTES).splitlines()[1:]
    return [(line.split()[1], line.split()[7]) for line in table if line.strip()]


def test_green_has_no_route_out_of_the_pod_network(deployed: Deployed) -> None:
    (green,) = deployed.ready_pods("green")
    routes = routes_to(deployed, green)
    assert ("00000000", "00000000") not in routes, routes
    # 10.244.0.0/16 (the pod network), little-endian as the kernel prints it.
    assert ("0000F40A", "0000FFFF") in routes, routes
    lines = pod_exec(deployed, green, SERVER_STATUS).splitlines()
    status = dict(line.split(":", 1) for line in lines if ":" in line)
    assert status["Uid"].split()[0] == str(USER_ID)
    assert status["CapEff"].strip() == "0000000000000000"
    assert "Network is unreachable" in pod_exec(deployed, green, CONNECT_OUT)
    blue = deployed.ready_pods("blue")[0]
    assert ("00000000", "00000000") in routes_to(deployed, blue)
    # The router, on whichever node, still reaches green.
    with httpx.Client() as http:
        answers = [deployed.score(http, **{"azureml-model-deployment": "green"}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5


def test_split_follows_traffic_within_three_points(deployed: Deployed) -> None:
    served = {"blue": 0, "green": 0}
    with httpx.Client() as http:
        for _ in range(2000):
            answer = deployed.score(http)
            assert answer.status_code == 200
            served[answer.headers["azureml-model-deployment"]] += 1
    print(f"2,000 requests: {served}")
    assert abs(served["blue"] / 20 - 80) <= 3, served
    assert abs(served["green"] / 20 - 20) <= 3, served


def test_the_command_reads_the_cluster(deployed: Deployed) -> None:
    runner = deployed.runner
    outputs = load_outputs(runner, show_secrets=True)
    assert outputs.target == "kubernetes"
    endpoint = outputs.endpoint(ENDPOINT)
    answer = invoke(endpoint, deployed.body, deployed.stack.name, deployment="green")
    assert (answer.status, answer.deployment) == (200, "green")

    (status,) = endpoint_statuses(load_outputs(runner), outputs.runtime())
    assert status.router.state == "running"
    assert [(r.deployment, r.container.state) for r in status.replicas] == [
        ("blue", "running"),
        ("blue", "running"),
        ("green", "running"),
    ]
    assert status.strays == []
    assert endpoint.scoring_uri in render_statuses(deployed.stack.name, [status])

    logs = replica_logs(outputs, outputs.runtime(), ENDPOINT, "green", lines=50)
    assert any("score" in line for line in logs.lines)

    # A regenerated key rolls the router: only the new secondary key works afterwards.
    before = keys.show(runner, ENDPOINT)
    assert keys.regenerate(runner, ENDPOINT, "secondary") == 1
    after = keys.show(runner, ENDPOINT)
    assert after.primary == before.primary and after.secondary != before.secondary
    assert invoke(endpoint, deployed.body, deployed.stack.name, key=before.secondary).status == 401
    assert invoke(endpoint, deployed.body, deployed.stack.name, key=after.secondary).status == 200
    deployed.refresh_outputs()

    assert runner.lifecycle("preview", ["--expect-no-changes"]) == 0


def test_a_deleted_replica_pod_drops_no_request(deployed: Deployed) -> None:
    victim = deployed.pods("blue")[0]
    with SteadyLoad(deployed.url, deployed.body, deployed.headers(), rate=50) as load:
        time.sleep(2)
        deployed.core.delete_namespaced_pod(victim.metadata.name, deployed.namespace)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready = deployed.ready_pods("blue")
            if len(ready) == 2 and victim.metadata.name not in {p.metadata.name for p in ready}:
                break
            time.sleep(0.5)
        time.sleep(3)
    result = load.result
    print(f"pod deletion: {result.total} requests at {result.rate:.0f}/s, {result.failed} failed")
    assert len(deployed.ready_pods("blue")) == 2
    assert result.rate >= 45, result.rate
    assert result.failed == 0, (result.statuses, result.errors[:5])


def test_preview_names_the_changed_hash_and_the_deployment_that_rolls(
    deployed: Deployed,
) -> None:
    score = deployed.workspace / "src" / "score.py"
    original = score.read_text()
    score.write_text(original.replace('"""Scoring script', '"""Scoring script (preview)', 1))
    try:
        diff = deployed.stack.run("preview", "--diff").stdout
        code, document = deployed.runner.preview_json()
    finally:
        score.write_text(original)
    # The package's code hash changed, and blue's Deployment rolls to the new image.
    changed = {
        line.split()[1].rstrip(":") for line in diff.splitlines() if "=>" in line and "~" in line
    }
    assert "code" in changed, diff
    assert "image" in changed, diff
    lines = diff.splitlines()
    rolling = [
        lines[index + 2]
        for index, line in enumerate(lines[:-2])
        if "kubernetes:apps/v1:Deployment: (update)" in line
    ]
    assert any(urn.endswith("::sklearn-regression-online-blue]") for urn in rolling), diff
    summary = render_markdown(parse_preview(document, deployed.stack.name))
    assert code == 0
    assert "code" in summary
    assert f"{ENDPOINT}/blue" in summary, summary


def test_a_package_whose_init_fails_stops_the_rollout_and_old_replicas_serve(
    deployed: Deployed,
) -> None:
    old = {pod.metadata.name for pod in deployed.pods("blue")}
    score = deployed.workspace / "src" / "score.py"
    original = score.read_text()
    score.write_text(
        original.replace(
            "def init():", "def init():\n    raise RuntimeError('init broke on purpose')", 1
        )
    )
    try:
        failed = deployed.stack.run("up", "--yes", "--skip-preview", check=False)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0
        assert "deployment blue of endpoint sklearn-regression-online" in output
        assert "init broke on purpose" in output, output[-3000:]
        # The old replicas keep serving, by the split and by name.
        assert old <= {pod.metadata.name for pod in deployed.ready_pods("blue")}
        with httpx.Client() as http:
            for _ in range(20):
                answer = deployed.score(http, **{"azureml-model-deployment": "blue"})
                assert answer.status_code == 200
    finally:
        score.write_text(original)
    deployed.stack.up()
    assert len(deployed.ready_pods("blue")) == 2


def test_traffic_move_and_package_replacement_drop_no_request(deployed: Deployed) -> None:
    old_blue = {pod.metadata.name for pod in deployed.pods("blue")}
    with SteadyLoad(deployed.url, deployed.body, deployed.headers(), rate=60) as load:
        deployed.edit("endpoint.yml", SPLIT)
        deployed.stack.up()
        deployed.edit("src/score.py", ('"""Scoring script', '"""Scoring script (v2)'))
        deployed.stack.up()
    result = load.result
    print(
        f"traffic move and rolling update: {result.total} requests at {result.rate:.0f}/s, "
        f"{result.failed} failed"
    )
    assert result.rate >= 50, result.rate
    assert result.failed == 0, (result.statuses, result.errors[:5])
    assert not old_blue & {pod.metadata.name for pod in deployed.pods("blue")}, "blue not rolled"
    with httpx.Client() as http:
        served = {deployed.score(http).headers["azureml-model-deployment"] for _ in range(50)}
        assert served == {"green"}
        # Blue takes no live traffic but the header still reaches it, as in Azure ML.
        for _ in range(10):
            answer = deployed.score(http, **{"azureml-model-deployment": "blue"})
            assert answer.status_code == 200
            assert answer.headers["azureml-model-deployment"] == "blue"
