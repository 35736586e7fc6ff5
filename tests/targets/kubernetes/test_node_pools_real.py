"""Instance types as node pools on the local cluster: with its node labelled as a
Standard_F2s_v2 (node.kubernetes.io/instance-type, as AKS labels its nodes), a deployment of
that type is placed there; one moved to a type no node offers fails the `up` naming the type,
and the replicas it would replace keep serving."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from kubernetes import client

from modelpack.targets.kubernetes.cluster import INSTANCE_TYPE_LABEL, api_client, kubeconfig_path
from modelpack.targets.kubernetes.naming import namespace_for
from tests.support.endpoint_client import EndpointClient
from tests.support.project import copy_portable_assets, free_port, modelpack_stack

pytestmark = pytest.mark.real

NODE = "modelpack-node-0"
POOL = "Standard_F2s_v2"
ENDPOINT = "sklearn-regression-online"
# A short readiness budget (1 + 1 x 3 s): an unplaceable replica fails the `up` after it.
FAST_PROBE = "readiness_probe: {initial_delay: 1, period: 1, failure_threshold: 3}\n"


@pytest.fixture
def core() -> Iterator[client.CoreV1Api]:
    core = client.CoreV1Api(api_client(kubeconfig_path()))
    core.patch_node(NODE, {"metadata": {"labels": {INSTANCE_TYPE_LABEL: POOL}}})
    try:
        yield core
    finally:
        core.patch_node(NODE, {"metadata": {"labels": {INSTANCE_TYPE_LABEL: None}}})


def test_deployments_go_to_their_instance_types_pool(core: client.CoreV1Api, tmp_path) -> None:
    workspace = copy_portable_assets(tmp_path / "workspace")
    for name in ("blue.yml", "green.yml"):
        path = workspace / name
        path.write_text(path.read_text() + FAST_PROBE)
    name = f"pool{uuid.uuid4().hex[:6]}"
    stack = modelpack_stack(
        tmp_path,
        name,
        workspace,
        **{"modelpack:target": "kubernetes", "modelpack:registryPort": str(free_port())},
    )
    apps = client.AppsV1Api(api_client(kubeconfig_path()))
    namespace = namespace_for(name)
    try:
        stack.up()
        blue = apps.read_namespaced_deployment(f"{ENDPOINT}-blue", namespace)
        assert blue.spec.template.spec.node_selector == {INSTANCE_TYPE_LABEL: POOL}
        selector = f"modelpack.stack={name},modelpack.deployment=blue"
        (old_pod,) = core.list_namespaced_pod(namespace, label_selector=selector).items
        assert old_pod.spec.node_name == NODE

        blue_file = workspace / "blue.yml"
        blue_file.write_text(blue_file.read_text().replace(POOL, "Standard_DS3_v2"))
        failed = stack.run("up", "--yes", "--skip-preview", check=False)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0
        assert "no node offers instance type Standard_DS3_v2" in output, output[-3000:]
        assert "deployment blue of endpoint sklearn-regression-online" in output

        # The old replica still serves blue.
        endpoint = EndpointClient(stack, workspace)
        url, body = endpoint.url, endpoint.body
        headers = endpoint.headers(**{"azureml-model-deployment": "blue"})
        with httpx.Client() as http:
            for _ in range(10):
                assert http.post(url, content=body, headers=headers).status_code == 200
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        assert old_pod.metadata.name in {pod.metadata.name for pod in pods}

        blue_file.write_text(blue_file.read_text().replace("Standard_DS3_v2", POOL))
        stack.up()
    finally:
        stack.destroy()
