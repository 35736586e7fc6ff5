"""Bad input never touches a deployment: every broken workspace of the corpus, given to a real
`pulumi up` of a stack that already serves the valid workspace, fails during the preview with
one error naming the file and the field, and the stack's state is left exactly as it was.

The corpus is the spec tests' table of broken workspaces (tests/assets/test_asset_folder_errors.py
CASES: the base workspace of tests/assets/asset_helpers.py with one mistake each), plus the checks
that need the Docker engine (a conda `python=` that the base image does not have).
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path

import pytest

ASSET_TESTS = Path(__file__).resolve().parents[1] / "assets"
sys.path.insert(0, str(ASSET_TESTS))  # the asset tests import their helpers by file name

from asset_helpers import BASE, write_files  # noqa: E402
from test_asset_folder_errors import CASES  # noqa: E402

from tests.support.project import modelpack_stack  # noqa: E402

pytestmark = pytest.mark.real

ENGINE_CASES = {
    "conda python the base image does not have": (
        {"environment/conda.yaml": BASE["environment/conda.yaml"].replace("3.11", "3.9")},
        "environment/conda.yaml",
        "dependencies",
        "does not match the base image",
    ),
}
MLFLOW_CONDA = "dependencies:\n  - python=3.12.1\n  - pip:\n    - scikit-learn\n"
ENGINE_CASES["mlflow model python the base image does not have"] = (
    {
        "mlflow.yml": "name: mlf\npath: mlflow\ntype: mlflow_model\n",
        "mlflow/MLmodel": "flavors:\n  python_function:\n    env: conda.yaml\n",
        "mlflow/conda.yaml": MLFLOW_CONDA,
        "package.yml": BASE["package.yml"] + "model: azureml:m1@latest\n",
        "mlflow-package.yml": "target_environment: mlf-pkg\n"
        "model: azureml:mlf@latest\n"
        "inferencing_server:\n  type: azureml_online\n",
    },
    "mlflow/MLmodel",
    "flavors.python_function.env",
    "asks for Python 3.12.1, but MLflow models are built on 'python:3.11-slim'",
)
ENGINE_CASES["autoscaling on the docker target"] = (
    {
        "blue.yml": BASE["blue.yml"]
        + "scale_settings:\n  type: target_utilization\n  min_instances: 1\n"
        "  max_instances: 3\n"
    },
    "blue.yml",
    "scale_settings.type",
    "target_utilization needs a target that autoscales (modelpack:target: kubernetes)",
)
CORPUS = {**CASES, **ENGINE_CASES}


def resources(stack) -> list[tuple[str, str]]:
    """(urn, a digest of the outputs) of every resource in the stack's state."""
    state = json.loads(stack.run("stack", "export").stdout)
    return sorted(
        (resource["urn"], json.dumps(resource.get("outputs", {}), sort_keys=True))
        for resource in state["deployment"].get("resources", [])
    )


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bad-input")
    workspace = root / "workspace"
    write_files(workspace, BASE)
    stack = modelpack_stack(root, f"bad{uuid.uuid4().hex[:6]}", workspace)
    stack.up()
    try:
        yield stack, workspace, resources(stack)
    finally:
        shutil.rmtree(workspace)
        write_files(workspace, BASE)
        stack.destroy()


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("changes, file, field, phrase", CORPUS.values(), ids=CORPUS.keys())
def test_broken_workspace_fails_in_preview_and_changes_nothing(
    serving, changes, file, field, phrase
) -> None:
    stack, workspace, before = serving
    shutil.rmtree(workspace)
    write_files(workspace, BASE)
    write_files(workspace, changes)

    result = stack.run("up", "--yes", check=False)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Previewing update" in output and "Updating (" not in output, output[-3000:]
    where = f"{workspace / file}: {field}: " if field else f"{workspace / file}: "
    assert where in output, output[-3000:]
    assert output.count(where) == 1, "the error is reported more than once"
    assert phrase in output
    assert resources(stack) == before
