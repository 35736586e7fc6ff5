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

from tests.support.load import SteadyLoad
from tests.support.project import copy_example_workspace, modelpack_stack

pytestmark = pytest.mark.real

ENDPOINT = "sklearn-regression-online"


class Deployed:
    def __init__(self, stack, workspace: Path) -> None:
        self.stack, self.workspace = stack, workspace
        self.refresh_outputs()

    def refresh_outputs(self) -> None:
        outputs = json.loads(self.stack.run("stack", "output", "--json", "--show-secrets").stdout)
        self.endpoint = outputs["endpoints"][ENDPOINT]
        self.keys = outputs["endpoint_keys"][ENDPOINT]
        self.url = self.endpoint["scoring_uri"]

    @property
    def body(self) -> bytes:
        return (self.workspace / "sample-request.json").read_bytes()

    def headers(self, key: str | None = "primary", **extra: str) -> dict[str, str]:
        headers = {"content-type": "application/json", **extra}
        if key:
            headers["authorization"] = f"Bearer {self.keys.get(key, key)}"
        return headers

    def score(self, client: httpx.Client, **headers: str) -> httpx.Response:
        return client.post(self.url, content=self.body, headers=self.headers(**headers))

    def edit(self, name: str, replace: tuple[str, str]) -> None:
        path = self.workspace / name
        text = path.read_text()
        assert replace[0] in text, f"{replace[0]!r} not in {name}"
        path.write_text(text.replace(*replace))

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
    workspace = copy_example_workspace(root / "workspace")
    # Two blue replicas, so that one can be killed while the other serves.
    (workspace / "blue.yml").write_text(
        (workspace / "blue.yml").read_text().replace("instance_count: 1", "instance_count: 2")
    )
    stack = modelpack_stack(root, f"ep{uuid.uuid4().hex[:6]}", workspace)
    stack.up()
    try:
        yield Deployed(stack, workspace)
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
