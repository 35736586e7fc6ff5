"""The cli verbs against a real deployment of the example workspace (Pulumi + Docker)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import docker
import joblib
import numpy
import pytest

from modelpack.cli import keys
from modelpack.cli.endpoints import endpoint_statuses, invoke, render_statuses
from modelpack.cli.logs import replica_logs
from modelpack.cli.outputs import load_outputs
from modelpack.cli.pulumi_runner import PulumiRunner
from modelpack.cli.workspaces import Workspace
from tests.support.project import copy_example_assets, modelpack_stack
from tests.support.pulumi_cli import PASSPHRASE

pytestmark = pytest.mark.real

STACK = f"clitest{uuid.uuid4().hex[:6]}"  # unique: it names containers and networks
ENDPOINT = "sklearn-regression-online"


def predictions(workspace: Path) -> list[float]:
    model = joblib.load(workspace / "model" / "sklearn_regression_model.pkl")
    rows = json.loads((workspace / "sample-request.json").read_text())["data"]
    return [float(value) for value in model.predict(numpy.array(rows))]


def test_cli_verbs_against_a_deployed_example(tmp_path: Path) -> None:
    example = copy_example_assets(tmp_path / "workspace")
    stack = modelpack_stack(tmp_path, STACK, example)
    workspace = Workspace(
        name=STACK,
        project_dir=stack.project_dir,
        backend_url=stack.backend_dir.as_uri(),
        backend_source="test",
        state_dir=tmp_path / "state",
    )
    runner = PulumiRunner(workspace, {**os.environ, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})
    client = docker.from_env()
    body = (example / "sample-request.json").read_bytes()
    expected = predictions(example)
    try:
        assert runner.lifecycle("up") == 0
        outputs = load_outputs(runner, show_secrets=True)
        endpoint = outputs.endpoint(ENDPOINT)

        # invoke: through the split, then each deployment by header
        answer = invoke(endpoint, body, STACK)
        assert answer.status == 200, answer.body
        assert answer.json() == pytest.approx(expected, abs=1e-6)
        assert answer.deployment in {"blue", "green"}
        for deployment in ("blue", "green"):
            answer = invoke(endpoint, body, STACK, deployment=deployment)
            assert (answer.status, answer.deployment) == (200, deployment), answer.body
            assert answer.json() == pytest.approx(expected, abs=1e-6)

        # list: both deployments with running replicas
        assert outputs.target == "docker"
        (status,) = endpoint_statuses(load_outputs(runner), outputs.runtime())
        assert status.router.state == "running"
        assert {r.deployment for r in status.replicas} == {"blue", "green"}
        assert all(r.container.state == "running" for r in status.replicas)
        text = render_statuses(STACK, [status])
        assert "blue" in text and "green" in text and endpoint.scoring_uri in text

        # logs: the blue replica scored the requests above
        logs = replica_logs(outputs, outputs.runtime(), ENDPOINT, "blue", lines=50)
        assert logs.lines and len(logs.lines) <= 50
        assert logs.container == endpoint.deployments["blue"][0]
        assert any("score" in line for line in logs.lines)

        # keys: regenerate the secondary one; only it changes, and only it stops working
        before = keys.show(runner, ENDPOINT)
        assert before.primary and before.secondary and before.primary != before.secondary
        assert keys.regenerate(runner, ENDPOINT, "secondary") == 1
        after = keys.show(runner, ENDPOINT)
        assert after.primary == before.primary
        assert after.secondary != before.secondary
        assert keys.generation_table(runner.config()) == {ENDPOINT: {"secondary": 1}}
        assert invoke(endpoint, body, STACK, key=before.secondary).status == 401
        assert invoke(endpoint, body, STACK, key=after.secondary).status == 200
        assert invoke(endpoint, body, STACK, key=after.primary).status == 200

        # nothing left to change: a second up is a no-op
        assert runner.lifecycle("preview", ["--expect-no-changes"]) == 0
    finally:
        runner.lifecycle("destroy")
        stack.run("stack", "rm", "--yes", "--force")
    left = client.containers.list(all=True, filters={"label": f"modelpack.stack={STACK}"})
    assert left == []
