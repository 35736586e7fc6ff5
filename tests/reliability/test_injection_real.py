"""Values from a workspace reach a package exactly as written and change nothing else; the
injected server leaves the user's environment exactly as their conda file says.

One stack, deployed once for the module with a real `pulumi up` on real Docker: a package whose
environment variables hold quotes, `$`, backslashes, line breaks (one spelling a Dockerfile
instruction) and unicode, built on a conda environment that pins other versions of the
server's own dependencies, with scoring code that imports a module of its own named
`inference`, served behind an endpoint. (The refusals, such as a conda `pip=` version that is a
shell command, run through a real `pulumi up` in test_bad_input_real.py.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.deployed import DeployedWorkspace, deployed_workspace
from tests.support.project import REPO

pytestmark = pytest.mark.real

ENDPOINT = "injection-ep"
VALUES = {
    "QUOTES": "it's \"double\" and 'single'",
    "NEWLINES": 'first line\nRUN ["touch", "/tmp/pwned"]\nRUN touch /tmp/pwned\nENV PWNED=1',
    "DOLLARS": "$HOME ${PATH} $(id) `id` $$",
    "BACKSLASHES": 'C:\\dir\\ \\n \\" \\',
    "UNICODE": "ünïcödé ✓ 🎉 日本語",
    "SPACES": "  padded\t ",
}
DEPLOYMENT_VALUES = {f"DEPLOYMENT_{name}": value for name, value in VALUES.items()}
# Other versions than the server requirements pin, all with wheels for Python 3.11.
USER_PINS = {"uvicorn": "0.30.6", "httptools": "0.6.1", "prometheus-client": "0.20.0"}


def yaml_mapping(values: dict[str, str]) -> str:
    """JSON strings are YAML double-quoted scalars: the values exactly, whatever they hold."""
    return "".join(
        f"  {name}: {json.dumps(value, ensure_ascii=False)}\n" for name, value in values.items()
    )


SCORE = f"""\
import os

import inference  # the scoring code's own module of that name, not the injected server

NAMES = {sorted([*VALUES, *DEPLOYMENT_VALUES])!r}


def init():
    pass


def run(raw_data):
    return {{"env": {{name: os.environ.get(name) for name in NAMES}}, "inference": inference.WHO}}
"""


def write_workspace(folder: Path) -> Path:
    files = {
        "model.yml": "name: tiny\npath: model\n",
        "model/weights.json": '{"w": 1}\n',
        "environment.yml": "name: pinned-env\nimage: python:3.11-slim\n"
        "conda_file: environment/conda.yaml\n",
        "environment/conda.yaml": "dependencies:\n  - python=3.11\n"
        + "".join(f"  - {name}={version}\n" for name, version in USER_PINS.items()),
        "package.yml": "$schema: http://azureml/sdk-2-0/ModelVersionPackage.json\n"
        "target_environment_name: injection-pkg\n"
        "base_environment_source:\n  type: environment_asset\n"
        "  resource_id: azureml:pinned-env@latest\n"
        "inferencing_server:\n  type: azureml_online\n"
        "  code_configuration:\n    code: src\n    entry_script: score.py\n"
        "model_configuration:\n  mode: copy\n"
        "environment_variables:\n" + yaml_mapping(VALUES),
        "src/score.py": SCORE,
        "src/inference.py": 'WHO = "the scoring code\'s own inference module"\n',
        "endpoint.yml": f"name: {ENDPOINT}\nauth_mode: key\ntraffic:\n  blue: 100\n",
        "blue.yml": f"name: blue\nendpoint_name: {ENDPOINT}\n"
        "environment: azureml:injection-pkg@latest\n"
        "instance_type: Standard_DS2_v2\ninstance_count: 1\n"
        "environment_variables:\n" + yaml_mapping(DEPLOYMENT_VALUES),
    }
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    root = tmp_path_factory.mktemp("injection")
    workspace = write_workspace(root / "workspace")
    with deployed_workspace(root, "inj", workspace=workspace) as deployed:
        yield deployed


def in_replica(deployed: DeployedWorkspace, *command: str) -> str:
    result = deployed.replica("blue").exec_run(list(command), demux=False)
    output = result.output.decode("utf-8")
    assert result.exit_code == 0, output
    return output


def score(deployed: DeployedWorkspace) -> httpx.Response:
    outputs = deployed.stack.outputs(show_secrets=True)
    url = outputs["endpoints"][ENDPOINT]["scoring_uri"]
    key = outputs["endpoint_keys"][ENDPOINT]["primary"]
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    return httpx.post(url, content=b'{"data": [[1]]}', headers=headers, timeout=30)


def test_env_values_with_quotes_newlines_and_dollars_reach_the_replica_byte_for_byte(
    served: DeployedWorkspace,
) -> None:
    expected = {**VALUES, **DEPLOYMENT_VALUES}
    # in the replica's environment, as a process started in it sees it
    program = (
        "import json, os, sys; "
        f"sys.stdout.write(json.dumps({{n: os.environ.get(n) for n in {sorted(expected)!r}}}))"
    )
    assert json.loads(in_replica(served, "/opt/env/bin/python", "-c", program)) == expected
    # and in the server's process, through the endpoint
    answer = score(served)
    assert answer.status_code == 200, answer.text
    assert answer.json()["env"] == expected


def test_env_values_add_no_build_step_and_run_nothing(served: DeployedWorkspace) -> None:
    api = docker.from_env().api
    package = served.outputs()["packages"]["injection-pkg"]["image"]
    prefix = f"modelpack/{served.name}/env/"
    (env_image,) = {
        image["Id"]
        for image in api.images()
        if any(tag.startswith(prefix) for tag in image["RepoTags"] or [])
    }
    steps = [
        entry["CreatedBy"] for entry in api.history(package) if "#(nop)" not in entry["CreatedBy"]
    ]
    env_steps = [
        entry["CreatedBy"] for entry in api.history(env_image) if "#(nop)" not in entry["CreatedBy"]
    ]
    added = steps[: len(steps) - len(env_steps)]
    # the package adds the server's user and the server's dependencies, nothing more
    assert len(added) == 2, added
    assert not any("pwned" in step for step in added), added
    assert in_replica(served, "sh", "-c", "test -e /tmp/pwned && echo yes || echo no") == "no\n"
    env = dict(item.split("=", 1) for item in api.inspect_image(package)["Config"]["Env"])
    assert "PWNED" not in env


def test_injected_server_leaves_the_users_pinned_versions_in_their_environment(
    served: DeployedWorkspace,
) -> None:
    program = (
        "import importlib.metadata as m, json, sys; "
        f"sys.stdout.write(json.dumps({{p: m.version(p) for p in {sorted(USER_PINS)!r}}}))"
    )
    # the user's interpreter, as `pip list` or a shell in the replica would see it
    assert json.loads(in_replica(served, "/opt/env/bin/python", "-c", program)) == USER_PINS
    freeze = in_replica(served, "/opt/env/bin/python", "-m", "pip", "freeze")
    installed = dict(
        line.lower().replace("_", "-").split("==") for line in freeze.split() if "==" in line
    )
    assert {name: installed.get(name) for name in USER_PINS} == USER_PINS, freeze
    assert "uvloop" not in installed and not any("modelpack" in name for name in installed)
    # the server runs its own pins, from its own folder
    server = REPO / "modelpack" / "inference_server" / "requirements.txt"
    pins = dict(line.split("==") for line in server.read_text().split())
    listed = in_replica(
        served, "sh", "-c", "ls /opt/modelpack/lib | grep -i -E '^(uvicorn|prometheus).*dist-info'"
    )
    assert f"uvicorn-{pins['uvicorn']}.dist-info" in listed, listed
    # ... and still serves, with the scoring code's own `inference` module importable
    answer = score(served)
    assert answer.status_code == 200, answer.text
    assert answer.json()["inference"] == "the scoring code's own inference module"
