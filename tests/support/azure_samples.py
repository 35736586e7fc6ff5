"""Asset folders laid out as Azure's online-endpoint samples are (Azure/azureml-examples:
`cli/endpoints/online/deploy-with-packages/custom-model`, `.../mlflow-model`, and the
quickstart `cli/endpoints/online/managed/sample` with its `model-1` / `model-2` folders
beside it), with the same file names and keys. The files are this project's own: its trained
regression model, its own scoring scripts, conda files and requests.

Each differs from Azure's only where the issue allows: the base image (python:3.11-slim, not
an mcr image) and Python 3.11; what Azure takes on the command line (the model asset that
`az ml model create --name --path --type` registers, `-e <endpoint>`, `--package-model`);
and, for the quickstart, only the two deployments written with loose files (the
`-with-curated-env` and `-with-registered-assets` variants are alternatives of blue and green).
"""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
import textwrap
from pathlib import Path

import yaml

from .mlflow_venv import mlflow_python
from .project import EXAMPLE_ASSETS

DEPLOYMENT_SCHEMA = (
    "https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json"
)
ENDPOINT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json"
ENVIRONMENT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/environment.schema.json"
MODEL_SCHEMA = "https://azuremlschemas.azureedge.net/latest/model.schema.json"
PACKAGE_SCHEMA = "http://azureml/sdk-2-0/ModelVersionPackage.json"

# The example's environment: the same pins, so its image layers are shared with other tests.
CONDA = """\
name: regression-env
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=2.4.6
  - pip=26.0.1
  - scikit-learn=1.9.1
  - scipy=1.17.1
  - joblib=1.6.0
"""

SCORE = '''\
"""Answers {"data": [[10 numbers], ...]} with the regression model's prediction per row."""

import json
import os

import joblib
import numpy

model = None


def init():
    global model
    folder = os.environ["AZUREML_MODEL_DIR"]
    model = joblib.load(os.path.join(folder, "model", "sklearn_regression_model.pkl"))


def run(raw_data):
    rows = numpy.array(json.loads(raw_data)["data"])
    return model.predict(rows).tolist()
'''

CONSTANT_SCORE = '''\
"""A stand-in second model: the same answer for every row, easy to tell apart."""

import json

ANSWER = 0.25


def init():
    pass


def run(raw_data):
    return [ANSWER for _ in json.loads(raw_data)["data"]]
'''

REQUEST = {
    "data": [
        [0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, -0.0, 0.02, -0.02],
        [-0.0, -0.04, -0.05, -0.03, -0.01, -0.02, 0.07, -0.04, -0.07, -0.09],
    ]
}
DIABETES_COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def regression_model() -> Path:
    """The project's own trained regression model (trained once per machine)."""
    model = EXAMPLE_ASSETS / "model" / "sklearn_regression_model.pkl"
    if not model.exists():
        runpy.run_path(str(EXAMPLE_ASSETS / "train.py"), run_name="__main__")
    return model


# -- deploy-with-packages/custom-model ----------------------------------------------------------

CUSTOM_ENDPOINT = "hello-packages"
CUSTOM_MOE = "sklearn-regression-online-pkg"
CUSTOM_PORTABLE = "sklearn-regression-docker-pkg"


def write_custom_model_sample(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "model").mkdir()
    shutil.copy(regression_model(), folder / "model" / "sklearn_regression_model.pkl")
    write(
        folder,
        {
            "deployment.yml": f"""
                $schema: {DEPLOYMENT_SCHEMA}
                name: with-package
                endpoint_name: {CUSTOM_ENDPOINT}
                environment: azureml:{CUSTOM_MOE}@latest
                instance_type: Standard_DS3_v2
                instance_count: 1
                """,
            "endpoint.yml": f"""
                $schema: {ENDPOINT_SCHEMA}
                name: {CUSTOM_ENDPOINT}
                auth_mode: key
                """,
            "environment/conda.yaml": CONDA,
            "environment/sklearn-regression-env.yml": f"""
                $schema: {ENVIRONMENT_SCHEMA}
                name: sklearn-regression-env
                image: python:3.11-slim
                conda_file: conda.yaml
                description: Scikit-learn regression, this project's own pins.
                """,
            # `az ml online-deployment create --package-model`: package_model: true
            "model-deployment.yml": f"""
                $schema: {DEPLOYMENT_SCHEMA}
                name: regular_deployment
                endpoint_name: {CUSTOM_ENDPOINT}
                model: azureml:sklearn-regression@latest
                environment: azureml:sklearn-regression-env@latest
                code_configuration:
                  code: src
                  scoring_script: score.py
                instance_type: Standard_DS3_v2
                instance_count: 1
                package_model: true
                """,
            "package-external.yml": f"""
                $schema: {PACKAGE_SCHEMA}
                base_environment_source:
                    type: environment_asset
                    resource_id: azureml:sklearn-regression-env:1
                target_environment: {CUSTOM_PORTABLE}
                inferencing_server:
                    type: azureml_online
                    code_configuration:
                      code: src
                      scoring_script: score.py
                model_configuration:
                  mode: copy
                """,
            "package-moe.yml": f"""
                $schema: {PACKAGE_SCHEMA}
                base_environment_source:
                    type: environment_asset
                    resource_id: azureml:sklearn-regression-env:1
                target_environment: {CUSTOM_MOE}
                inferencing_server:
                    type: azureml_online
                    code_configuration:
                      code: src
                      scoring_script: score.py
                """,
            "sample-request.json": json.dumps(REQUEST, indent=4),
            "src/score.py": SCORE,
            # `az ml model create --name sklearn-regression --path model --type custom_model`
            "model.yml": f"""
                $schema: {MODEL_SCHEMA}
                name: sklearn-regression
                path: model
                type: custom_model
                """,
        },
    )
    return folder


# -- deploy-with-packages/mlflow-model ----------------------------------------------------------

MLFLOW_ENDPOINT = "diabetes-regressor"
MLFLOW_MODEL = "diabetes-regressor-mlflow"
MLFLOW_PACKAGE = "diabetes-regressor-mlflow-pkg"
MLFLOW_PINS = ["scikit-learn==1.9.1", "numpy==2.4.6", "pandas==3.1.1", "mlflow-skinny==3.17.2"]
TRAIN_MLFLOW = """
import sys, warnings
warnings.filterwarnings("ignore")
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
import mlflow.sklearn
features, target = load_diabetes(return_X_y=True, as_frame=True)
model = Ridge(alpha=0.5).fit(features, target)
mlflow.sklearn.save_model(
    model, sys.argv[1], serialization_format="pickle", pip_requirements=sys.argv[2:]
)
"""
# Stale pins, as an old requirements.txt beside the conda file: never installed.
STALE_REQUIREMENTS = "mlflow\nscikit-learn==0.0.1\n"


def write_mlflow_model(folder: Path) -> None:
    """An MLflow model laid out as the sample's `model/`: MLmodel naming `env: conda.yaml`,
    conda.yaml, model.pkl and requirements.txt."""
    subprocess.run(
        [str(mlflow_python()), "-c", TRAIN_MLFLOW, str(folder), *MLFLOW_PINS],
        check=True,
        capture_output=True,
        timeout=300,
    )
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["flavors"]["python_function"]["env"] = "conda.yaml"
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (folder / "python_env.yaml").unlink()
    (folder / "requirements.txt").write_text(STALE_REQUIREMENTS)


def write_mlflow_model_sample(folder: Path, *, package_model: bool = True) -> Path:
    folder.mkdir(parents=True)
    write_mlflow_model(folder / "model")
    rows = REQUEST["data"]
    # `--with-package` on Azure's command line
    packaged = "package_model: true" if package_model else ""
    request = {"input_data": {"columns": DIABETES_COLUMNS, "index": [0, 1], "data": rows}}
    write(
        folder,
        {
            "deployment.yml": f"""
                $schema: {DEPLOYMENT_SCHEMA}
                name: with-package
                endpoint_name: {MLFLOW_ENDPOINT}
                environment: azureml:{MLFLOW_PACKAGE}@latest
                instance_type: Standard_DS3_v2
                instance_count: 1
                """,
            "endpoint.yml": f"""
                $schema: {ENDPOINT_SCHEMA}
                name: {MLFLOW_ENDPOINT}
                auth_mode: key
                """,
            # endpoint_name: what `-e` gives on the command line
            "model-deployment.yml": f"""
                $schema: {DEPLOYMENT_SCHEMA}
                name: with-package-inline
                endpoint_name: {MLFLOW_ENDPOINT}
                model: azureml:{MLFLOW_MODEL}@latest
                instance_type: Standard_DS3_v2
                instance_count: 1
                {packaged}
                """,
            "package.yml": f"""
                $schema: {PACKAGE_SCHEMA}
                target_environment: {MLFLOW_PACKAGE}
                inferencing_server:
                    type: azureml_online
                """,
            "sample-request.json": json.dumps(request, indent=4),
            # `az ml model create --name ... --path model --type mlflow_model`
            "model.yml": f"""
                $schema: {MODEL_SCHEMA}
                name: {MLFLOW_MODEL}
                path: model
                type: mlflow_model
                """,
        },
    )
    return folder


# -- managed/sample with model-1 and model-2 beside it ------------------------------------------

QUICKSTART_ENDPOINT = "my-endpoint"
QUICKSTART_PATH = Path("cli/endpoints/online/managed/sample")


def write_quickstart_sample(repository: Path) -> Path:
    """A repository holding the quickstart's folders at Azure's paths; returns the asset
    folder (`cli/endpoints/online/managed/sample`)."""
    online = repository / "cli" / "endpoints" / "online"
    for number, score in ((1, SCORE), (2, CONSTANT_SCORE)):
        model = online / f"model-{number}"
        (model / "model").mkdir(parents=True)
        shutil.copy(regression_model(), model / "model" / "sklearn_regression_model.pkl")
        write(
            model,
            {
                "environment/conda.yaml": CONDA,
                "onlinescoring/score.py": score,
                "sample-request.json": json.dumps(REQUEST),
            },
        )
    sample = repository / QUICKSTART_PATH
    deployments = {
        f"{color}-deployment.yml": f"""
            $schema: {DEPLOYMENT_SCHEMA}
            name: {color}
            endpoint_name: {QUICKSTART_ENDPOINT}
            model:
              path: ../../model-{number}/model/
            code_configuration:
              code: ../../model-{number}/onlinescoring/
              scoring_script: score.py
            environment:
              conda_file: ../../model-{number}/environment/conda.yaml
              image: python:3.11-slim
            instance_type: Standard_DS3_v2
            instance_count: 1
            """
        for color, number in (("blue", 1), ("green", 2))
    }
    write(
        sample,
        {
            "endpoint.yml": f"""
                $schema: {ENDPOINT_SCHEMA}
                name: {QUICKSTART_ENDPOINT}
                auth_mode: key
                """,
            **deployments,
            "sample-request.json": json.dumps(REQUEST),
        },
    )
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    return sample
