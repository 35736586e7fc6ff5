"""Endpoints and deployments through the real path: `pulumi up` of the example workspace
(blue 80 / green 20 behind one endpoint), real HTTP through the nginx router, real Docker."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import docker
import httpx
import joblib
import numpy
import pytest

from tests.support.endpoint_client import EndpointClient
from tests.support.load import SteadyLoad
from tests.support.project import copy_example_assets, modelpack_stack

pytestmark = pytest.mark.real

ENDPOINT = "sklearn-regression-online"
MAX_BODY_BYTES = 64 * 1024


class Deployed(EndpointClient):
    def replicas(self, deployment: str) -> list:
        return docker.from_env().containers.list(
            filters={
                "label": [
                    f"modelpack.stack={self.stack.name}",
                    f"modelpack.deployment={deployment}",
                ]
            }
        )


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("endpoint")
    workspace = copy_example_assets(root / "workspace")
    # Two blue replicas, so that one can be killed while the other serves.
    (workspace / "blue.yml").write_text(
        (workspace / "blue.yml").read_text().replace("instance_count: 1", "instance_count: 2")
    )
    stack = modelpack_stack(
        root,
        f"ep{uuid.uuid4().hex[:6]}",
        workspace,
        **{"modelpack:maxRequestBodyBytes": str(MAX_BODY_BYTES)},
    )
    first_up = stack.up()
    try:
        deployed = Deployed(stack, workspace)
        deployed.first_up_output = first_up.stdout + first_up.stderr
        yield deployed
    finally:
        stack.destroy()
        client = docker.from_env()
        label = f"modelpack.stack={stack.name}"
        assert client.containers.list(all=True, filters={"label": label}) == []
        assert client.networks.list(filters={"label": label}) == []
        assert client.volumes.list(filters={"label": label}) == []


def expected_predictions(workspace: Path) -> list[float]:
    model = joblib.load(workspace / "model" / "sklearn_regression_model.pkl")
    rows = json.loads((workspace / "sample-request.json").read_text())["data"]
    return model.predict(numpy.array(rows)).tolist()


def test_answers_are_the_models_predictions(deployed: Deployed) -> None:
    with httpx.Client() as client:
        answer = deployed.score(client)
    assert answer.status_code == 200
    assert answer.json() == pytest.approx(expected_predictions(deployed.workspace), abs=1e-6)
    assert answer.headers["azureml-model-deployment"] in {"blue", "green"}


def test_split_follows_traffic_within_three_points(deployed: Deployed) -> None:
    served = {"blue": 0, "green": 0}
    with httpx.Client() as client:
        for _ in range(2000):
            answer = deployed.score(client)
            assert answer.status_code == 200
            served[answer.headers["azureml-model-deployment"]] += 1
    assert abs(served["blue"] / 20 - 80) <= 3, served
    assert abs(served["green"] / 20 - 20) <= 3, served


def test_header_picks_a_deployment(deployed: Deployed) -> None:
    with httpx.Client() as client:
        for name in ("blue", "green"):
            for _ in range(20):
                answer = deployed.score(client, **{"azureml-model-deployment": name})
                assert answer.status_code == 200
                assert answer.headers["azureml-model-deployment"] == name
        unknown = deployed.score(client, **{"azureml-model-deployment": "purple"})
    assert unknown.status_code == 404


def test_no_key_or_wrong_key_is_refused(deployed: Deployed) -> None:
    with httpx.Client() as client:
        assert deployed.score(client, key=None).status_code == 401
        assert deployed.score(client, key="not-the-key").status_code == 401
        assert deployed.score(client, key="secondary").status_code == 200


def test_request_ids_pass_through(deployed: Deployed) -> None:
    with httpx.Client() as client:
        answer = deployed.score(client, **{"x-request-id": "trace-me-42"})
    assert answer.headers["x-request-id"] == "trace-me-42"
    assert answer.headers["x-ms-request-id"] == "trace-me-42"


def test_killed_replica_restarts_while_traffic_keeps_flowing(deployed: Deployed) -> None:
    victim, survivor = deployed.replicas("blue")
    restarts = victim.attrs["RestartCount"]
    with SteadyLoad(deployed.url, deployed.body, deployed.headers(), rate=50) as load:
        time.sleep(1)
        os.kill(victim.attrs["State"]["Pid"], signal.SIGKILL)  # a crash, not a stop
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            victim.reload()
            if victim.attrs["RestartCount"] > restarts and victim.status == "running":
                break
            time.sleep(0.5)
        time.sleep(3)
    assert victim.attrs["RestartCount"] == restarts + 1
    assert load.result.failed == 0, (load.result.statuses, load.result.errors[:5])
    assert load.result.total > 100
    with httpx.Client() as client:  # the restarted replica serves again
        for _ in range(10):
            assert deployed.score(client, **{"azureml-model-deployment": "blue"}).status_code == 200


def test_mirror_traffic_reaches_green_without_changing_answers(deployed: Deployed) -> None:
    deployed.edit("endpoint.yml", ("  blue: 80\n  green: 20\n", "  blue: 100\n  green: 0\n"))
    (deployed.workspace / "endpoint.yml").write_text(
        (deployed.workspace / "endpoint.yml").read_text() + "mirror_traffic:\n  green: 50\n"
    )
    try:
        deployed.stack.up()
        green = deployed.replicas("green")[0]
        before = green.logs().decode().count('"path": "/score"')
        with httpx.Client() as client:
            served = [
                deployed.score(client).headers["azureml-model-deployment"] for _ in range(200)
            ]
        time.sleep(1)
        mirrored = green.logs().decode().count('"path": "/score"') - before
        assert set(served) == {"blue"}
        assert 60 <= mirrored <= 140, mirrored  # 50% of 200, give or take
    finally:
        text = (deployed.workspace / "endpoint.yml").read_text()
        text = text.replace("mirror_traffic:\n  green: 50\n", "")
        (deployed.workspace / "endpoint.yml").write_text(
            text.replace("  blue: 100\n  green: 0\n", "  blue: 80\n  green: 20\n")
        )
        deployed.stack.up()


def test_traffic_move_and_package_replacement_drop_no_request(deployed: Deployed) -> None:
    old_blue = {c.id for c in deployed.replicas("blue")}
    with SteadyLoad(deployed.url, deployed.body, deployed.headers(), rate=60) as load:
        deployed.edit("endpoint.yml", ("  blue: 80\n  green: 20\n", "  blue: 0\n  green: 100\n"))
        deployed.stack.up()
        deployed.edit("src/score.py", ('"""Scoring script', '"""Scoring script (v2)'))
        deployed.stack.up()
    result = load.result
    assert result.rate >= 50, result.rate
    assert result.failed == 0, (result.statuses, result.errors[:5])
    assert not old_blue & {c.id for c in deployed.replicas("blue")}, "blue was not replaced"
    with httpx.Client() as client:
        served = {deployed.score(client).headers["azureml-model-deployment"] for _ in range(50)}
    assert served == {"green"}
    # Blue takes no live traffic but is still reachable by name, as in Azure ML.
    with httpx.Client() as client:
        answer = deployed.score(client, **{"azureml-model-deployment": "blue"})
    assert answer.status_code == 200
    print(f"zero-downtime run: {result.total} requests at {result.rate:.0f}/s, 0 failed")


def stack_containers(deployed: Deployed) -> list:
    label = f"modelpack.stack={deployed.stack.name}"
    return docker.from_env().containers.list(all=True, filters={"label": label})


def test_keys_are_never_in_plain_text(deployed: Deployed) -> None:
    keys = [deployed.keys["primary"], deployed.keys["secondary"]]
    places = {"`pulumi up` output": deployed.first_up_output}
    state_files = sorted(deployed.stack.backend_dir.rglob("*.json"))
    assert state_files, "no state file found"
    for path in state_files:
        places[f"state file {path.name}"] = path.read_text()
    places["stack output"] = deployed.stack.run("stack", "output", "--json").stdout
    places["stack export"] = deployed.stack.run("stack", "export").stdout
    for container in stack_containers(deployed):
        places[f"logs of {container.name}"] = container.logs().decode(errors="replace")
    client = docker.from_env()
    images = {container.image.id for container in stack_containers(deployed)}
    for image_id in images:
        layers = b"".join(client.images.get(image_id).save())
        places[f"image {image_id[7:19]}"] = layers.decode("latin-1")
    for where, text in places.items():
        for key in keys:
            assert key not in text, f"an endpoint key is in plain text in the {where}"


def test_replicas_run_as_non_root_with_the_model_read_only(deployed: Deployed) -> None:
    for container in deployed.replicas("blue") + deployed.replicas("green"):
        assert container.exec_run(["id", "-u"]).output.decode().strip() == "1000"
    blue = deployed.replicas("blue")[0]  # package-moe.yml: readonly_mount
    (mount,) = blue.attrs["Mounts"]
    assert mount["RW"] is False
    model_dir = mount["Destination"]
    attempt = blue.exec_run(["sh", "-c", f"touch {model_dir}/model/x"])
    assert attempt.exit_code != 0 and b"Read-only file system" in attempt.output
    router = next(c for c in stack_containers(deployed) if c.labels["modelpack.role"] == "router")
    assert router.exec_run(["id", "-u"]).output.decode().strip() == "65534"


def test_replicas_get_their_instance_types_limits(deployed: Deployed) -> None:
    from components.compute import host_cpus, host_memory_mb

    # blue: Standard_DS3_v2 (4 vCPUs, 14 GiB); green: Standard_F2s_v2 (2 vCPUs, 4 GiB).
    for deployment, vcpus, memory_gib in (("blue", 4, 14), ("green", 2, 4)):
        cpus = min(vcpus, host_cpus())
        memory_mb = min(memory_gib * 1024, int(host_memory_mb() * 0.8))
        for container in deployed.replicas(deployment):
            assert container.attrs["HostConfig"]["NanoCpus"] == cpus * 1_000_000_000
            assert container.attrs["HostConfig"]["Memory"] == memory_mb * 1024 * 1024


def test_request_bodies_over_the_limit_are_refused_at_the_router(deployed: Deployed) -> None:
    big = b'{"data": [[' + b"0.0, " * (MAX_BODY_BYTES // 5) + b"0.0]]}"
    with httpx.Client() as client:
        answer = client.post(deployed.url, content=big, headers=deployed.headers())
    assert answer.status_code == 413
