"""Azure's own samples, laid out as Azure wrote them, deploy (issue 16): the two
deploy-with-packages folders (custom-model, mlflow-model) and the quickstart
(managed/sample) with its model-1 / model-2 folders beside it. Each is `up`ped as a stack of
its own, and every deployment answers its sample request through the endpoint, picked with
the `azureml-model-deployment` header as `az ml online-endpoint invoke --deployment` does
(the samples set no traffic).

The folders are tests/support/azure_samples.py's: this project's own files, Azure's layout
and keys, with only the changes the issue names.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import joblib
import numpy
import pytest

from tests.support import azure_samples as samples
from tests.support.deployed import DeployedWorkspace, deployed_workspace

pytestmark = pytest.mark.real


def up(root: Path, prefix: str, workspace: Path) -> Iterator[DeployedWorkspace]:
    started = time.monotonic()
    with deployed_workspace(root, prefix, workspace, up=False) as deployed:
        deployed.up()
        print(f"\n{prefix}: up in {time.monotonic() - started:.1f} s")
        yield deployed


def invoke(deployed: DeployedWorkspace, endpoint: str, deployment: str, body: bytes):
    outputs = deployed.stack.outputs(show_secrets=True)
    answer = httpx.post(
        outputs["endpoints"][endpoint]["scoring_uri"],
        content=body,
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {outputs['endpoint_keys'][endpoint]['primary']}",
            "azureml-model-deployment": deployment,
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["azureml-model-deployment"] == deployment
    return answer.json()


def predicted(model: Path, rows: list[list[float]]) -> list:
    """The model's own prediction (an MLflow model was fitted on named columns, in order)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        return joblib.load(model).predict(numpy.array(rows)).tolist()


# -- deploy-with-packages/custom-model ----------------------------------------------------------


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    root = tmp_path_factory.mktemp("custom-model")
    workspace = samples.write_custom_model_sample(root / "custom-model")
    yield from up(root, "azc", workspace)


@pytest.mark.parametrize("deployment", ["with-package", "regular_deployment"])
def test_custom_model_sample_answers(custom: DeployedWorkspace, deployment: str) -> None:
    body = (custom.workspace / "sample-request.json").read_bytes()
    answer = invoke(custom, samples.CUSTOM_ENDPOINT, deployment, body)
    model = custom.workspace / "model" / "sklearn_regression_model.pkl"
    assert answer == pytest.approx(predicted(model, json.loads(body)["data"]), abs=1e-6)


def test_custom_model_sample_builds_both_packages(custom: DeployedWorkspace) -> None:
    packages = custom.outputs()["packages"]
    assert {samples.CUSTOM_MOE, samples.CUSTOM_PORTABLE} <= set(packages)
    assert packages[samples.CUSTOM_PORTABLE]["mode"] == "copy"
    assert custom.outputs()["models"] == {"sklearn-regression:auto": "1"}


# -- deploy-with-packages/mlflow-model ----------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    root = tmp_path_factory.mktemp("mlflow-model")
    workspace = samples.write_mlflow_model_sample(root / "mlflow-model")
    yield from up(root, "azm", workspace)


@pytest.mark.parametrize("deployment", ["with-package", "with-package-inline"])
def test_mlflow_model_sample_answers(mlflow: DeployedWorkspace, deployment: str) -> None:
    body = (mlflow.workspace / "sample-request.json").read_bytes()
    answer = invoke(mlflow, samples.MLFLOW_ENDPOINT, deployment, body)
    split = json.loads(body)["input_data"]
    model = mlflow.workspace / "model" / "model.pkl"
    assert split["columns"] == samples.DIABETES_COLUMNS
    assert answer == pytest.approx(predicted(model, split["data"]), abs=1e-6)


def test_mlflow_environment_is_the_models_conda_file(mlflow: DeployedWorkspace) -> None:
    """requirements.txt pins a scikit-learn that does not exist: the build took conda.yaml."""
    image = mlflow.outputs()["packages"][samples.MLFLOW_PACKAGE]["image"]
    run = docker.from_env().containers.run
    frozen = run(image, ["pip", "freeze"], entrypoint=[], remove=True).decode().lower()
    for pin in samples.MLFLOW_PINS:
        assert pin in frozen, frozen


# -- managed/sample with model-1 and model-2 -----------------------------------------------------


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    root = tmp_path_factory.mktemp("quickstart")
    workspace = samples.write_quickstart_sample(root / "azureml-examples")
    yield from up(root, "azq", workspace)


def test_quickstart_blue_answers_the_models_predictions(quickstart: DeployedWorkspace) -> None:
    body = (quickstart.workspace / "sample-request.json").read_bytes()
    answer = invoke(quickstart, samples.QUICKSTART_ENDPOINT, "blue", body)
    model = quickstart.workspace / "../../model-1/model/sklearn_regression_model.pkl"
    assert answer == pytest.approx(predicted(model, json.loads(body)["data"]), abs=1e-6)


def test_quickstart_green_answers_its_constant(quickstart: DeployedWorkspace) -> None:
    body = (quickstart.workspace / "sample-request.json").read_bytes()
    assert invoke(quickstart, samples.QUICKSTART_ENDPOINT, "green", body) == [0.25, 0.25]
