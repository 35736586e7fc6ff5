"""A small workspace that builds in seconds: a one-file model, an environment with no
dependencies beyond Python, and a copy-mode package with a trivial score.py; with
`write_small_endpoint`, also an endpoint whose one deployment serves it (score.py's run()
answers the request body)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = "small-pkg"
SCORE = """\
def init():
    pass


def run(raw_data):
    return raw_data
"""
FILES = {
    "model.yml": "name: small\npath: model\n",
    "model/weights.json": '{"w": 1}\n',
    "environment.yml": "name: plain-env\nimage: python:3.11-slim\n"
    "conda_file: environment/conda.yaml\n",
    "environment/conda.yaml": "dependencies:\n  - python=3.11\n",
    "package.yml": "$schema: http://azureml/sdk-2-0/ModelVersionPackage.json\n"
    f"target_environment_name: {PACKAGE}\n"
    "base_environment_source:\n  type: environment_asset\n"
    "  resource_id: azureml:plain-env@latest\n"
    "inferencing_server:\n  type: azureml_online\n"
    "  code_configuration:\n    code: src\n    entry_script: score.py\n"
    "model_configuration:\n  mode: copy\n",
    "src/score.py": SCORE,
}


def write_small_workspace(folder: Path) -> Path:
    for name, text in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


ENDPOINT = "small-online"
REQUEST = '{"data": [[1, 2]]}'
ENDPOINT_YAML = f"""\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
name: {ENDPOINT}
auth_mode: key
traffic:
  blue: 100
"""
DEPLOYMENT_YAML = f"""\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: blue
endpoint_name: {ENDPOINT}
environment: azureml:{PACKAGE}@latest
instance_type: Standard_F2s_v2
instance_count: 1
"""


def write_small_endpoint(folder: Path) -> Path:
    """The small workspace, an endpoint `small-online` with deployment blue serving its package,
    and `request.json` (REQUEST) to send it."""
    write_small_workspace(folder)
    (folder / "endpoint.yml").write_text(ENDPOINT_YAML)
    (folder / "blue.yml").write_text(DEPLOYMENT_YAML)
    (folder / "request.json").write_text(REQUEST)
    return folder
