"""An MLflow model without score.py, served from an interpreter where mlflow is installed.

mlflow is not a dependency of the server, so this runs the server with the Python of the tests'
mlflow venv (tests/support/mlflow_venv.py), which also holds the server's requirements.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from modelpack.inference_server.settings import Settings
from tests.support.mlflow_venv import mlflow_python as shared_mlflow_python

REPO = Path(__file__).resolve().parents[2]

SAVE_MODEL = """
import json
import sys

import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

features, target = load_diabetes(return_X_y=True, as_frame=True)
model = Ridge().fit(features, target)
rows = features.iloc[:3]
mlflow.sklearn.save_model(
    model, sys.argv[1] + "/model", signature=infer_signature(rows, model.predict(rows)),
    serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
)
json.dump({
    "columns": list(rows.columns),
    "rows": rows.values.tolist(),
    "predictions": model.predict(rows).tolist(),
}, open(sys.argv[1] + "/expected.json", "w"))
"""


@pytest.fixture(scope="session")
def mlflow_python() -> str:
    return str(shared_mlflow_python())


@pytest.fixture(scope="session")
def mlflow_model(mlflow_python: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """An MLflow sklearn model at ``<model dir>/model``, as Azure ML mounts a registered model."""
    model_dir = tmp_path_factory.mktemp("mlflow-model")
    subprocess.run([mlflow_python, "-c", SAVE_MODEL, str(model_dir)], check=True)
    expected = json.loads((model_dir / "expected.json").read_text())
    (model_dir / "expected.json").unlink()
    return model_dir, expected


def test_mlflow_model_without_score_script(start_server, mlflow_python, mlflow_model):
    model_dir, expected = mlflow_model
    columns, rows, predictions = expected["columns"], expected["rows"], expected["predictions"]
    server = start_server("--model_dir", str(model_dir), python=mlflow_python)
    server.wait_ready(120)

    def score(payload: dict):
        response = server.client.post("/score", json=payload)
        assert response.status_code == 200, response.text
        return response.json()

    azure_split = {"input_data": {"columns": columns, "index": [0, 1, 2], "data": rows}}
    assert score(azure_split) == pytest.approx(predictions)
    assert score({"input_data": rows}) == pytest.approx(predictions)
    mlflow_split = {"dataframe_split": {"columns": columns, "data": rows}}
    assert score(mlflow_split) == {"predictions": pytest.approx(predictions)}
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    assert score({"dataframe_records": records}) == {"predictions": pytest.approx(predictions)}

    bad = server.client.post("/score", json={"something": []})
    assert bad.status_code == 400
    assert "input_data" in bad.json()["message"]
    assert server.client.get("/swagger.json").status_code == 200


def test_mlflow_model_needs_mlflow_in_the_interpreter(start_server, mlflow_model):
    # The test venv has no mlflow: the server says so and exits.
    model_dir, _ = mlflow_model
    server = start_server("--model_dir", str(model_dir))
    assert server.wait_exit(60) != 0
    assert "mlflow cannot be imported" in server.logs()


def test_settings_find_no_script_for_mlflow(mlflow_model):
    settings = Settings.from_env({"AZUREML_MODEL_DIR": str(mlflow_model[0])})
    assert settings.entry_script_path() is None


def payloads_of_every_kind(columns: list[str], rows: list[list[float]]) -> list[bytes]:
    """Bodies of the formats batching merges, some in twos, one with a NaN (sklearn refuses
    it when predicting: it fails the merged predict, then only itself), one not JSON."""
    split = [{"input_data": {"columns": columns, "data": [row]}} for row in rows]
    bodies = [
        *split,
        *split,
        {"input_data": {"columns": columns, "index": [5, 6], "data": rows[:2]}},
        {"dataframe_split": {"columns": columns, "data": rows}},
        {"dataframe_split": {"columns": columns, "data": rows[1:]}},
        {"dataframe_records": [dict(zip(columns, row, strict=True)) for row in rows]},
        {"input_data": rows},
        {"input_data": rows[:1]},
        {"input_data": {"columns": columns, "data": [[float("nan")] * len(columns)]}},
    ]
    return [json.dumps(body).encode() for body in bodies] + [b'{"input_data": ']


def test_batched_answers_equal_unbatched_ones_and_a_bad_request_fails_alone(
    start_server, mlflow_python, mlflow_model
):
    model_dir, expected = mlflow_model
    bodies = payloads_of_every_kind(expected["columns"], expected["rows"])
    alone = start_server("--model_dir", str(model_dir), python=mlflow_python)
    batching = {"MAX_BATCH_SIZE": "64", "MAX_BATCH_LATENCY_MS": "5000"}
    batched = start_server("--model_dir", str(model_dir), env=batching, python=mlflow_python)
    alone.wait_ready(120)
    batched.wait_ready(120)
    headers = {"content-type": "application/json"}
    unbatched = [alone.client.post("/score", content=body, headers=headers) for body in bodies]

    answers = batched.post_together(bodies)

    statuses = [status for status, _ in answers]
    assert statuses == [answer.status_code for answer in unbatched]
    assert statuses == [200] * (len(bodies) - 2) + [500, 400]
    for (_, body), reference in zip(answers[:-2], unbatched, strict=False):
        # Equal up to the last bits of a float: BLAS sums a row's products in an order that
        # depends on the rows around it (a row in a 2-row request can differ from the same
        # row in a 3-row one too).
        got, wanted = json.loads(body), reference.json()
        if isinstance(wanted, dict):  # MLflow's own formats: {"predictions": [...]}
            assert got.keys() == wanted.keys() == {"predictions"}, body
            got, wanted = got["predictions"], wanted["predictions"]
        assert got == pytest.approx(wanted, rel=1e-12), body
    # In flight together, the requests went in one batch: those of one format and columns in
    # one predict call each (the NaN's failing its call). Some calls answered several.
    assert batched.metric("inference_batch_size_sum") > batched.metric("inference_batch_size_count")
    assert "scoring them one by one" in batched.logs()  # the NaN's merged predict failed
