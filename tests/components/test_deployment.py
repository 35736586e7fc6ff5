"""What a deployment's day-two settings declare, under Pulumi mocks: `data_collector` gives
its replicas the server's DATA_COLLECTION_* settings and a writable mount of the workspace's
store; `egress_public_network_access: disabled` puts them on the endpoint's isolated network,
which the router joins too, and starts their server as root with the capabilities it needs to
delete their route out. Fast; the real path is in test_deployment_real.py."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.deployment import check_deployments
from modelpack import names
from modelpack.assets import AssetFolderError, load_asset_folder
from modelpack.builds.layout import USER_ID
from modelpack.targets.docker.target import DockerTarget
from modelpack.targets.egress import CAPABILITIES
from tests.support.graph_mocks import all_declared, declare
from tests.support.project import DEPLOYMENT, copy_example_assets

ENDPOINT = "sklearn-regression-online"
COLLECTOR = """
data_collector:
  collections:
    model_inputs: {enabled: 'True'}
    model_outputs: {enabled: 'True'}
    request: {enabled: 'False'}
  sampling_rate: 0.25
  rolling_rate: Minute
  request_logging:
    capture_headers: [X-Customer-Id]
"""
NO_EGRESS = "egress_public_network_access: disabled\n"
BATCHING = """
request_settings: {max_concurrent_requests_per_instance: 64}
batching: {max_batch_size: 16, max_latency_ms: 3}
"""


def containers_of(mocks, deployment: str) -> list:
    prefix = f"{ENDPOINT}-{deployment}-"
    return [r for name, r in mocks.of_kind("Container").items() if name.startswith(prefix)]


@pulumi.runtime.test
def test_data_collector_sets_the_server_and_mounts_the_store(tmp_path: Path, monkeypatch):
    mocks, graph = declare(tmp_path, monkeypatch, appended={"blue.yml": COLLECTOR})

    def check(_):
        [blue] = containers_of(mocks, "blue")
        env = blue.inputs["env"]
        assert env["DATA_COLLECTION_DIR"] == names.DATA_COLLECTOR_MOUNT
        assert env["DATA_COLLECTION_COLLECTIONS"] == "model_inputs,model_outputs"
        assert env["DATA_COLLECTION_SAMPLING_RATE"] == "0.25"
        assert env["DATA_COLLECTION_ROLLING_RATE"] == "minute"
        assert env["DATA_COLLECTION_CAPTURE_HEADERS"] == "x-customer-id"
        assert env["DATA_COLLECTION_SOURCE"] == f"/endpoints/{ENDPOINT}/deployments/blue"
        store = tmp_path / "state" / names.DATA_COLLECTOR_FOLDER / ENDPOINT / "blue"
        assert {
            "source": str(store),
            "target": names.DATA_COLLECTOR_MOUNT,
            "read_only": False,
            "create_source": True,
            "owner": USER_ID,
        } in blue.inputs["mounts"]
        [green] = containers_of(mocks, "green")
        assert not any(key.startswith("DATA_COLLECTION") for key in green.inputs["env"])

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_disabled_egress_puts_replicas_on_an_isolated_network(tmp_path: Path, monkeypatch):
    mocks, graph = declare(tmp_path, monkeypatch, appended={"green.yml": NO_EGRESS})

    def check(_):
        networks = {r.inputs["name"]: r.inputs for r in mocks.of_kind("Network").values()}
        isolated = f"mp-mock-{ENDPOINT}-isolated"
        assert networks[isolated]["internal"] is True
        assert networks[f"mp-mock-{ENDPOINT}"].get("internal") is None
        [green] = containers_of(mocks, "green")
        [blue] = containers_of(mocks, "blue")
        assert green.inputs["network"] == isolated
        assert blue.inputs["network"] == f"mp-mock-{ENDPOINT}"
        assert (green.inputs["user"], green.inputs["cap_add"]) == ("0", list(CAPABILITIES))
        assert green.inputs["cap_drop"] == ["ALL"]
        assert green.inputs["no_new_privileges"] is True
        assert green.inputs["env"]["EGRESS_DISABLED"] == "true"
        assert green.inputs["env"]["SERVER_USER_ID"] == str(USER_ID)
        assert "EGRESS_DISABLED" not in blue.inputs["env"]
        assert blue.inputs.get("user") is None and blue.inputs.get("cap_add") is None
        [router] = [
            r
            for r in mocks.of_kind("Container").values()
            if r.inputs["labels"].get(names.LABEL_ROLE) == names.ROLE_ROUTER
        ]
        assert router.inputs["network"] == f"mp-mock-{ENDPOINT}"
        assert router.inputs["extra_networks"] == [isolated]

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_endpoints_without_it_have_no_isolated_network(tmp_path: Path, monkeypatch):
    mocks, graph = declare(tmp_path, monkeypatch)

    def check(_):
        assert [r.inputs["name"] for r in mocks.of_kind("Network").values()] == [
            f"mp-mock-{ENDPOINT}"
        ]
        [router] = [
            r
            for r in mocks.of_kind("Container").values()
            if r.inputs["labels"].get(names.LABEL_ROLE) == names.ROLE_ROUTER
        ]
        assert router.inputs.get("extra_networks") is None

    return all_declared(graph).apply(check)


CUSTOM_SERVER_PACKAGE = """\
$schema: http://azureml/sdk-2-0/ModelVersionPackage.json
target_environment_name: own-server-pkg
base_environment_source:
  type: environment_asset
  resource_id: azureml:sklearn-regression-env@latest
inferencing_server:
  type: custom
  inference_configuration:
    scoring_route: {port: 8501, path: /score}
    readiness_route: {port: 8501, path: /ready}
model_configuration: {mode: copy}
"""


def test_a_package_with_its_own_server_cannot_disable_egress_or_collect(tmp_path: Path):
    """Both are done by the server that packages inject."""
    folder = copy_example_assets(tmp_path / "assets")
    (folder / "package-own.yml").write_text(CUSTOM_SERVER_PACKAGE)
    (folder / "own.yml").write_text(
        DEPLOYMENT.format(name="own", package="own-server-pkg") + NO_EGRESS + COLLECTOR
    )
    with pytest.raises(AssetFolderError) as raised:
        check_deployments(load_asset_folder(folder), DockerTarget())
    message = str(raised.value)
    assert (
        "own.yml: egress_public_network_access: disabled is enforced by the inference server"
        in message
    )
    assert "own.yml: data_collector: is recorded by the inference server" in message
    assert "own-server-pkg runs its own server (custom)" in message


@pytest.mark.parametrize("target", ["docker", "kubernetes"])
@pulumi.runtime.test
def test_batching_reaches_the_replicas_server_on_either_target(
    tmp_path: Path, monkeypatch, target: str
):
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_, **__: warnings.append(message))
    mocks, graph = declare(tmp_path, monkeypatch, target=target, appended={"blue.yml": BATCHING})

    def env_of(deployment: str) -> dict[str, str]:
        if target == "docker":
            [container] = containers_of(mocks, deployment)
            return container.inputs["env"]
        [workload] = [
            r.inputs
            for r in mocks.resources.values()
            if r.typ.endswith(":Deployment") and r.inputs["metadata"]["name"].endswith(deployment)
        ]
        [container] = workload["spec"]["template"]["spec"]["containers"]
        return {item["name"]: item["value"] for item in container["env"]}

    def check(_):
        blue, green = env_of("blue"), env_of("green")
        assert (blue["MAX_BATCH_SIZE"], blue["MAX_BATCH_LATENCY_MS"]) == ("16", "3")
        assert blue["MAX_CONCURRENT_REQUESTS_PER_INSTANCE"] == "64"
        assert "MAX_BATCH_SIZE" not in green
        # blue's package serves a score.py without run_batch: batching cannot merge for it
        [warning] = [w for w in warnings if "batching" in w]
        assert warning.startswith("deployment blue: ") and "score.py does not" in warning

    return all_declared(graph).apply(check)
