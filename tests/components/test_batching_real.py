"""Adaptive batching on a real stack (Docker target): an MLflow model served without a
score.py, deployed twice on one endpoint from the same model with the same request limits,
`batched` with a `batching` block and `plain` without. Concurrent requests through the
endpoint's router get from `batched` the answers `plain` gives each alone; a request holding
a NaN row fails alone (500) while the requests merged with it answer 200; the replica's
/metrics shows model calls that answered several requests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_diabetes

from tests.support.azure_samples import (
    DEPLOYMENT_SCHEMA,
    DIABETES_COLUMNS,
    ENDPOINT_SCHEMA,
    MODEL_SCHEMA,
    write_mlflow_model,
)
from tests.support.deployed import DeployedWorkspace, deployed_workspace

pytestmark = pytest.mark.real

ENDPOINT = "batching-online"
CONCURRENT = 48
# Every NAN_EVERY-th request holds a NaN row: whether one given request finds company in a
# batch depends on how the requests reach the workers, so several make a merge likely per round.
NAN_EVERY = 4
# Both deployments take all the requests at once, so the one difference between them is
# batching (under Azure ML's default limit of 1, `plain` queued them and, on a busy machine,
# answered some 429 once max_queue_wait_ms had passed).
REQUEST_SETTINGS = """
request_settings:
  max_concurrent_requests_per_instance: 64
"""
BATCHING = """
batching:
  max_batch_size: 32
  max_latency_ms: 50
"""
ROUNDS = 20
MERGED_FAILURE = "scoring them one by one"
LOG_FLUSH_S = 0.3  # the server writes its log lines every 0.1 s
METRICS = """
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:5001/metrics").read().decode())
"""


def write_workspace(folder: Path) -> Path:
    folder.mkdir(parents=True)
    write_mlflow_model(folder / "model")
    (folder / "model.yml").write_text(
        f"$schema: {MODEL_SCHEMA}\nname: diabetes-mlflow\npath: model\ntype: mlflow_model\n"
    )
    (folder / "endpoint.yml").write_text(
        f"$schema: {ENDPOINT_SCHEMA}\nname: {ENDPOINT}\nauth_mode: key\n"
    )
    for name, extra in (("batched", REQUEST_SETTINGS + BATCHING), ("plain", REQUEST_SETTINGS)):
        (folder / f"{name}.yml").write_text(
            f"$schema: {DEPLOYMENT_SCHEMA}\nname: {name}\nendpoint_name: {ENDPOINT}\n"
            "model: azureml:diabetes-mlflow@latest\n"
            "instance_type: Standard_DS3_v2\ninstance_count: 1\n" + extra
        )
    return folder


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    root = tmp_path_factory.mktemp("batching")
    workspace = write_workspace(root / "workspace")
    with deployed_workspace(root, "batch", workspace) as stack:
        yield stack


def bodies() -> list[bytes]:
    """CONCURRENT requests of 1 to 3 rows each, all of one shape, every NAN_EVERY-th (from
    the third) with a NaN row."""
    features, _ = load_diabetes(return_X_y=True)
    columns, rows = DIABETES_COLUMNS, features.tolist()
    found = []
    for index in range(CONCURRENT):
        taken = rows[index * 3 : index * 3 + 1 + index % 3]
        if failing(index):
            taken = [[float("nan")] * len(columns), *taken]
        found.append(json.dumps({"input_data": {"columns": columns, "data": taken}}).encode())
    return found


def failing(index: int) -> bool:
    return index % NAN_EVERY == 2


def score(stack: DeployedWorkspace, deployment: str, payloads: list[bytes]) -> list[httpx.Response]:
    outputs = stack.stack.outputs(show_secrets=True)
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {outputs['endpoint_keys'][ENDPOINT]['primary']}",
        "azureml-model-deployment": deployment,
    }
    url = outputs["endpoints"][ENDPOINT]["scoring_uri"]

    def one(body: bytes) -> httpx.Response:
        with httpx.Client(timeout=30) as client:  # a connection each: requests at once
            return client.post(url, content=body, headers=headers)

    with ThreadPoolExecutor(len(payloads)) as pool:
        return list(pool.map(one, payloads))


def batch_sizes(stack: DeployedWorkspace) -> dict[str, float]:
    """The replica's inference_batch_size histogram: calls of the model by upper bound."""
    result = stack.replica("batched").exec_run(["python3", "-c", METRICS])
    assert result.exit_code == 0, result.output.decode()
    return {
        line.split('le="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in result.output.decode().splitlines()
        if line.startswith("inference_batch_size_bucket")
    }


def test_concurrent_requests_are_merged_and_answered_as_alone(deployed: DeployedWorkspace) -> None:
    payloads = bodies()
    alone = score(deployed, "plain", payloads)
    expected = [500 if failing(index) else 200 for index in range(CONCURRENT)]
    assert [answer.status_code for answer in alone] == expected
    # Rounds until a request with a NaN has been merged with others at least once, and a
    # merged call has answered (one holding a NaN fails and its requests are scored alone, so
    # the histogram counts neither): a request that finds its worker with nothing else
    # arriving is scored alone at once, so whether it gets company in a given round depends on
    # how the requests reach the workers.
    for _ in range(ROUNDS):
        answers = score(deployed, "batched", payloads)
        wrong = [
            (index, answer.status_code, answer.text)
            for index, answer in enumerate(answers)
            if answer.status_code != expected[index]
        ]
        assert not wrong, (wrong, deployed.replica("batched").logs().decode()[-3000:])
        assert {a.headers["azureml-model-deployment"] for a in answers} == {"batched"}
        for answer, reference in zip(answers, alone, strict=True):
            if reference.status_code == 200:
                # Equal up to a float's last bits (BLAS sums a row in an order that depends
                # on the rows around it; see tests/inference_server/test_mlflow.py).
                assert answer.json() == pytest.approx(reference.json(), rel=1e-12)
        time.sleep(LOG_FLUSH_S)
        merged_failure = MERGED_FAILURE in deployed.replica("batched").logs().decode()
        sizes = batch_sizes(deployed)
        if merged_failure and sizes["+Inf"] > sizes["1.0"]:
            break
    else:
        pytest.fail(
            f"in {ROUNDS} rounds, not both of: a request with a NaN merged with another "
            f"(seen: {merged_failure}) and a merged call answered (batch sizes: {sizes})"
        )
