"""Autoscaling as Azure ML writes it (`scale_settings: {type: target_utilization, ...}`) on the
local cluster: a steady load raises blue's replica count through its HorizontalPodAutoscaler
(CPU, from metrics-server); once the load stops, the count falls back to min_instances. The
test stack shortens the scale-down window (modelpack:scaleDownStabilizationSeconds), not the
product's default. No request fails meanwhile."""

from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client

from modelpack.targets.kubernetes.cluster import api_client, kubeconfig_path
from modelpack.targets.kubernetes.naming import namespace_for
from tests.support.endpoint_client import EndpointClient
from tests.support.load import SteadyLoad
from tests.support.project import copy_portable_assets, free_port, modelpack_stack

pytestmark = pytest.mark.real

ENDPOINT = "sklearn-regression-online"
SCALE = """\
readiness_probe: {initial_delay: 1, period: 1}
resources:
  requests: {cpu: 50m, memory: 128Mi}
  limits: {cpu: '1', memory: 1Gi}
scale_settings:
  type: target_utilization
  min_instances: 1
  max_instances: 3
  target_utilization_percentage: 50
"""


def replicas(apps: client.AppsV1Api, namespace: str) -> tuple[int, int]:
    """(wanted, ready) replicas of blue."""
    found = apps.read_namespaced_deployment(f"{ENDPOINT}-blue", namespace)
    return found.spec.replicas, found.status.ready_replicas or 0


def served_recently(core: client.CoreV1Api, namespace: str, seconds: int) -> dict[str, int]:
    """Requests each ready blue replica logged in the last `seconds` (one access line each)."""
    found = core.list_namespaced_pod(namespace, label_selector="modelpack.deployment=blue")
    served = {}
    for pod in found.items:
        conditions = pod.status.conditions or []
        if pod.metadata.deletion_timestamp or not any(
            c.type == "Ready" and c.status == "True" for c in conditions
        ):
            continue
        log = core.read_namespaced_pod_log(pod.metadata.name, namespace, since_seconds=seconds)
        served[pod.metadata.name] = log.count('"logger": "inference.access"')
    return served


def test_a_steady_load_scales_blue_out_and_it_falls_back_when_the_load_stops(tmp_path) -> None:
    workspace = copy_portable_assets(tmp_path / "workspace")
    (workspace / "blue.yml").write_text((workspace / "blue.yml").read_text() + SCALE)
    name = f"hpa{uuid.uuid4().hex[:6]}"
    stack = modelpack_stack(
        tmp_path,
        name,
        workspace,
        **{
            "modelpack:target": "kubernetes",
            "modelpack:registryPort": str(free_port()),
            "modelpack:scaleDownStabilizationSeconds": "10",
        },
    )
    api = api_client(kubeconfig_path())
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    namespace = namespace_for(name)
    try:
        stack.up()
        assert replicas(apps, namespace) == (1, 1)
        endpoint = EndpointClient(stack, workspace)
        url, body = endpoint.url, endpoint.body
        headers = endpoint.headers(**{"azureml-model-deployment": "blue"})

        started = time.monotonic()
        with SteadyLoad(url, body, headers, rate=150, threads=6) as load:
            while time.monotonic() - started < 150:
                wanted, ready = replicas(apps, namespace)
                if wanted > 1 and ready == wanted:
                    break
                time.sleep(2)
            scaled_out = time.monotonic() - started
            peak = replicas(apps, namespace)
            # The new replicas take their share of the load within seconds.
            time.sleep(8)
            served = served_recently(core, namespace, seconds=6)
        print(
            f"scale-out: {peak[1]} replicas ready after {scaled_out:.0f} s; {load.result.total} "
            f"requests at {load.result.rate:.0f}/s, {load.result.failed} failed"
        )
        assert peak[0] > 1 and peak[1] == peak[0], peak
        print(f"requests per replica in the last 6 s: {sorted(served.values())}")
        assert len(served) >= peak[1] and all(served.values()), served
        assert load.result.failed == 0, (load.result.statuses, load.result.errors[:5])

        started = time.monotonic()
        with SteadyLoad(url, body, headers, rate=5, threads=1) as light:
            while time.monotonic() - started < 180:
                if replicas(apps, namespace) == (1, 1):
                    break
                time.sleep(2)
            time.sleep(8)  # the removed replicas drain under the light load
        scaled_in = time.monotonic() - started
        print(
            f"scale-in: back to 1 replica after {scaled_in:.0f} s; {light.result.total} "
            f"requests, {light.result.failed} failed"
        )
        assert replicas(apps, namespace) == (1, 1)
        assert light.result.failed == 0, (light.result.statuses, light.result.errors[:5])
        # The autoscaler owns the count: an up changes nothing.
        stack.run("preview", "--expect-no-changes")
    finally:
        stack.destroy()
