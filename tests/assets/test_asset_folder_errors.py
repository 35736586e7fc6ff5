"""Each kind of mistake in a workspace is reported at the right file and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from asset_helpers import BASE, CONDA, SCORE, Files, Link

from modelpack.assets import AssetFolderError, SpecError, load_asset_folder

CODE = """\
code_configuration:
  code: src
  scoring_script: score.py
"""
GREEN = (
    """\
name: green
endpoint_name: ep1
model: azureml:m1@latest
"""
    + CODE
    + """\
environment: azureml:env1@latest
package_model: true
instance_type: Standard_F2s_v2
instance_count: 1
"""
)


def edit(name: str, old: str, new: str) -> Files:
    """The base file `name` with `old` replaced by `new` (which must occur)."""
    text = BASE[name]
    assert text is not None and old in text, (name, old)
    return {name: text.replace(old, new)}


def errors_of(folder: Path) -> list[SpecError]:
    with pytest.raises(AssetFolderError) as caught:
        load_asset_folder(folder)
    return caught.value.errors


# id -> (changes to the base workspace, file, field, a phrase of the message)
CASES: dict[str, tuple[Files, str, str, str]] = {
    "unknown base environment": (
        edit("package.yml", "azureml:env1@latest", "azureml:nope@latest"),
        "package.yml",
        "base_environment_source.resource_id",
        "unknown environment or package 'nope'",
    ),
    "unknown package in deployment": (
        edit("blue.yml", "azureml:pkg1@latest", "azureml:pkg9@latest"),
        "blue.yml",
        "environment",
        "unknown environment or package 'pkg9'",
    ),
    "unknown model in package": (
        {"package.yml": BASE["package.yml"] + "model: azureml:nope:1\n"},
        "package.yml",
        "model",
        "unknown model 'nope'",
    ),
    "version of an unversioned asset": (
        edit("package.yml", "azureml:env1@latest", "azureml:env1:7"),
        "package.yml",
        "base_environment_source.resource_id",
        "azureml:env1@latest",
    ),
    "missing version": (
        {
            "environment.yml": BASE["environment.yml"] + "version: 2\n",
            "package.yml": BASE["package.yml"].replace("azureml:env1@latest", "azureml:env1:3"),
        },
        "package.yml",
        "base_environment_source.resource_id",
        "has no version '3' (versions: 2)",
    ),
    "model reference naming an environment": (
        {
            "package.yml": BASE["package.yml"]
            + "model: azureml://registries/r/environments/env1/versions/1\n"
        },
        "package.yml",
        "model",
        "names an environment, not a model",
    ),
    "malformed reference": (
        edit("blue.yml", "azureml:pkg1@latest", "pkg1"),
        "blue.yml",
        "environment",
        "must be azureml:<name>:<version>",
    ),
    "duplicate model": (
        {"model2.yml": "name: m1\npath: model\n"},
        "model2.yml",
        "name",
        "duplicate model 'm1'",
    ),
    "duplicate model version": (
        {
            "model.yml": "name: m1\nversion: 1\npath: model\n",
            "model2.yml": "name: m1\nversion: '1'\npath: model\n",
        },
        "model2.yml",
        "name",
        "duplicate model 'm1' version 1",
    ),
    "duplicate environment": (
        {"environment2.yml": "name: env1\nimage: python:3.12-slim\n"},
        "environment2.yml",
        "name",
        "duplicate environment or package 'env1'",
    ),
    "package named like an environment": (
        edit("package.yml", "target_environment_name: pkg1", "target_environment_name: env1")
        | {"blue.yml": None}
        | edit("endpoint.yml", "traffic:\n  blue: 100", "traffic: {}"),
        "package.yml",
        "target_environment_name",
        "duplicate environment or package 'env1'",
    ),
    "duplicate endpoint": (
        {"endpoint2.yml": "name: ep1\nauth_mode: key\n"},
        "endpoint2.yml",
        "name",
        "duplicate endpoint 'ep1'",
    ),
    "duplicate deployment": (
        {"blue2.yml": BASE["blue.yml"]},
        "blue2.yml",
        "name",
        "duplicate deployment 'blue'",
    ),
    "traffic to a missing deployment": (
        edit("endpoint.yml", "blue: 100", "blue: 80\n  green: 20"),
        "endpoint.yml",
        "traffic.green",
        "has no deployment 'green'",
    ),
    "mirror traffic to a missing deployment": (
        {"endpoint.yml": BASE["endpoint.yml"] + "mirror_traffic:\n  green: 10\n"},
        "endpoint.yml",
        "mirror_traffic.green",
        "has no deployment 'green'",
    ),
    "traffic not adding up": (
        edit("endpoint.yml", "blue: 100", "blue: 90"),
        "endpoint.yml",
        "traffic",
        "must add up to 100",
    ),
    "mirror traffic over 50": (
        {"endpoint.yml": BASE["endpoint.yml"] + "mirror_traffic:\n  blue: 60\n"},
        "endpoint.yml",
        "mirror_traffic.blue",
        "less than or equal to 50",
    ),
    "deployment of a missing endpoint": (
        edit("blue.yml", "endpoint_name: ep1", "endpoint_name: ep2")
        | edit("endpoint.yml", "traffic:\n  blue: 100", "traffic: {}"),
        "blue.yml",
        "endpoint_name",
        "unknown endpoint 'ep2'",
    ),
    "missing code folder": (
        edit("package.yml", "code: src", "code: source"),
        "package.yml",
        "inferencing_server.code_configuration.code",
        "code folder 'source' does not exist",
    ),
    "missing entry script": (
        edit("package.yml", "entry_script: score.py", "entry_script: main.py"),
        "package.yml",
        "inferencing_server.code_configuration.entry_script",
        "'main.py' not found in 'src'",
    ),
    "missing entry script given as scoring_script": (
        edit("package.yml", "entry_script: score.py", "scoring_script: main.py"),
        "package.yml",
        "inferencing_server.code_configuration.scoring_script",
        "'main.py' not found",
    ),
    "entry script without run": (
        {"src/score.py": "def init():\n    pass\n"},
        "package.yml",
        "inferencing_server.code_configuration.entry_script",
        "src/score.py must define run() at top level",
    ),
    "entry script with run nested": (
        {"src/score.py": "def init():\n    def run(data):\n        pass\n"},
        "package.yml",
        "inferencing_server.code_configuration.entry_script",
        "must define run()",
    ),
    "entry script syntax error": (
        {"src/score.py": "def init():\n    pass\ndef run(data)\n    return data\n"},
        "package.yml",
        "inferencing_server.code_configuration.entry_script",
        "syntax error at line 3",
    ),
    "missing model path": (
        {"model": None},
        "model.yml",
        "path",
        "model path 'model' does not exist",
    ),
    "missing conda file": (
        {"environment/conda.yaml": None},
        "environment.yml",
        "conda_file",
        "conda file 'environment/conda.yaml' does not exist",
    ),
    "model path outside the workspace": (
        edit("model.yml", "path: model", "path: ../outside"),
        "model.yml",
        "path",
        "points outside the workspace folder",
    ),
    "code folder outside the workspace": (
        edit("package.yml", "code: src", "code: ../outside"),
        "package.yml",
        "inferencing_server.code_configuration.code",
        "points outside the workspace folder",
    ),
    "conda file outside the workspace": (
        edit("environment.yml", "conda_file: environment/conda.yaml", "conda_file: /etc/hosts"),
        "environment.yml",
        "conda_file",
        "points outside the workspace folder",
    ),
    "invalid model mode": (
        {"package.yml": BASE["package.yml"] + "model_configuration:\n  mode: cp\n"},
        "package.yml",
        "model_configuration.mode",
        "must be one of readonly_mount, copy (got 'cp')",
    ),
    "invalid server type": (
        edit("package.yml", "type: azureml_online", "type: azure"),
        "package.yml",
        "inferencing_server.type",
        "must be one of azureml_online, custom (got 'azure')",
    ),
    "custom server without routes": (
        edit("package.yml", "type: azureml_online", "type: custom"),
        "package.yml",
        "inferencing_server.inference_configuration",
        "is required when type is custom",
    ),
    "instance count below one": (
        edit("blue.yml", "instance_count: 1", "instance_count: 0"),
        "blue.yml",
        "instance_count",
        "greater than or equal to 1 (got 0)",
    ),
    "batching of one request": (
        {
            "blue.yml": BASE["blue.yml"]
            + "request_settings: {max_concurrent_requests_per_instance: 8}\n"
            + "batching: {max_batch_size: 1}\n"
        },
        "blue.yml",
        "batching.max_batch_size",
        "must be at least 2 (got 1)",
    ),
    "batching without concurrent requests": (
        {"blue.yml": BASE["blue.yml"] + "batching: {max_batch_size: 16}\n"},
        "blue.yml",
        "batching",
        "max_concurrent_requests_per_instance is 1",
    ),
    "unknown instance type": (
        edit("blue.yml", "Standard_DS3_v2", "Standard_DS9_v2"),
        "blue.yml",
        "instance_type",
        "unknown instance type 'Standard_DS9_v2'",
    ),
    "unknown field": (
        {"blue.yml": BASE["blue.yml"] + "instance_typo: 3\n"},
        "blue.yml",
        "instance_typo",
        "unknown field (did you mean 'instance_type'?",
    ),
    "unknown nested field": (
        edit("package.yml", "entry_script: score.py", "entry_script: score.py\n    cmd: x"),
        "package.yml",
        "inferencing_server.code_configuration.cmd",
        "unknown field",
    ),
    "missing required field": (
        edit("package.yml", "target_environment_name: pkg1\n", "")
        | {"blue.yml": None}
        | edit("endpoint.yml", "traffic:\n  blue: 100", "traffic: {}"),
        "package.yml",
        "target_environment_name",
        "is required",
    ),
    "conda package without pip equivalent": (
        {"environment/conda.yaml": CONDA + "  - cudatoolkit=11.8\n  - mkl\n"},
        "environment/conda.yaml",
        "dependencies",
        "cudatoolkit=11.8 (dependencies[2]: no pip equivalent); mkl (dependencies[3]",
    ),
    "malformed conda file": (
        {"environment/conda.yaml": CONDA + "  - pip: numpy\n"},
        "environment/conda.yaml",
        "dependencies[2].pip",
        "must be a list",
    ),
    "unsupported schema": (
        {
            "job.yml": "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        },
        "job.yml",
        "$schema",
        "unsupported asset schema",
    ),
    "invalid YAML": (
        {"broken.yml": "name: [unclosed\n"},
        "broken.yml",
        "",
        "invalid YAML at line",
    ),
    "key given twice": (
        {"blue.yml": BASE["blue.yml"] + "instance_count: 2\n"},
        "blue.yml",
        "",
        "key 'instance_count' is given twice",
    ),
    "deployment of an environment": (
        edit("blue.yml", "azureml:pkg1@latest", "azureml:env1@latest"),
        "blue.yml",
        "environment",
        "'env1' is an environment, not a package",
    ),
    "model deployment on a package": (
        {"green.yml": GREEN.replace("azureml:env1@latest", "azureml:pkg1@latest")},
        "green.yml",
        "environment",
        "'pkg1' is a package",
    ),
    "model deployment without scoring script": (
        {"green.yml": GREEN.replace("scoring_script: score.py", "scoring_script: nope.py")},
        "green.yml",
        "code_configuration.scoring_script",
        "'nope.py' not found",
    ),
    "model deployment without code": (
        {"green.yml": GREEN.replace(CODE, "")},
        "green.yml",
        "code_configuration",
        "is required for a custom_model",
    ),
    "code without model": (
        {"green.yml": GREEN.replace("model: azureml:m1@latest\n", "")},
        "green.yml",
        "model",
        "is required when code_configuration is given",
    ),
    "package of one of several models": (
        {"model2.yml": "name: m2\npath: model\n"},
        "package.yml",
        "model",
        "several models (m1, m2)",
    ),
    "pip requirements including a file": (
        edit(
            "environment.yml",
            "conda_file: environment/conda.yaml",
            "pip_requirements: requirements.txt",
        )
        | {"requirements.txt": "numpy==1.26.4\n-r other.txt\n"},
        "environment.yml",
        "pip_requirements",
        "requirements.txt line 2",
    ),
    "conda file and pip requirements together": (
        {"environment.yml": BASE["environment.yml"] + "pip_requirements: r.txt\n"},
        "environment.yml",
        "pip_requirements",
        "either conda_file or pip_requirements",
    ),
    # Values that would reach a build step, a Dockerfile or a requirements file.
    "environment variable name that is not a name": (
        {"package.yml": BASE["package.yml"] + "environment_variables:\n  BAD-NAME: x\n"},
        "package.yml",
        "environment_variables.BAD-NAME",
        "(a variable name)",
    ),
    "deployment environment variable name that is not a name": (
        {"blue.yml": BASE["blue.yml"] + "environment_variables:\n  '1X=y': z\n"},
        "blue.yml",
        "environment_variables.1X=y",
        "(a variable name)",
    ),
    "conda pip version that is a shell command": (
        {"environment/conda.yaml": CONDA + "  - pip=26'$(id)'\n"},
        "environment/conda.yaml",
        "dependencies[2]",
        "is not a version",
    ),
    "conda pip entry with a line break": (
        {"environment/conda.yaml": CONDA + '  - pip:\n    - "numpy\\n--index-url http://x"\n'},
        "environment/conda.yaml",
        "dependencies[2].pip[0]",
        "line break",
    ),
    "mount path with shell characters": (
        {
            "package.yml": BASE["package.yml"]
            + "model_configuration:\n  mode: copy\n  mount_path: /models/$(id)\n"
        },
        "package.yml",
        "model_configuration.mount_path",
        "must be an absolute path",
    ),
    "mount path with a parent step": (
        {"package.yml": BASE["package.yml"] + "model_configuration:\n  mount_path: /a/../etc\n"},
        "package.yml",
        "model_configuration.mount_path",
        "no '..'",
    ),
    "code folder name with shell characters": (
        {"src": None, "src $x/score.py": SCORE} | edit("package.yml", "code: src", "code: src $x"),
        "package.yml",
        "inferencing_server.code_configuration.code",
        "must be letters, digits",
    ),
    # Links in a model or code folder (issue 10, item 7).
    "model folder link pointing outside it": (
        {"model/leak.bin": Link("../../outside")},
        "model.yml",
        "path",
        "'leak.bin' -> '../../outside'",
    ),
    "code folder link pointing outside it": (
        {"src/secrets": Link("../model")},
        "package.yml",
        "inferencing_server.code_configuration.code",
        "'secrets' -> '../model'",
    ),
    "model folder absolute link": (
        {"model/abs.bin": Link("/etc/hostname")},
        "model.yml",
        "path",
        "'abs.bin' -> '/etc/hostname'",
    ),
    # An emptied asset file must not read as "delete the asset" (item 11).
    "empty endpoint file": (
        {"endpoint.yml": ""},
        "endpoint.yml",
        "",
        "the file is empty",
    ),
    "deployment file holding only a comment": (
        {"blue.yml": "# emptied by a bad merge\n"},
        "blue.yml",
        "",
        "the file is empty",
    ),
    # Azure's samples (issue 16)
    "both target keys": (
        {"package.yml": BASE["package.yml"] + "target_environment: pkg1\n"},
        "package.yml",
        "target_environment",
        "give either target_environment or target_environment_name, not both",
    ),
    "version Azure would not assign": (
        edit("package.yml", "azureml:env1@latest", "azureml:env1:2"),
        "package.yml",
        "base_environment_source.resource_id",
        "has no version '2' to deploy",
    ),
    "custom model without environment": (
        {"green.yml": GREEN.replace("environment: azureml:env1@latest\n", "")},
        "green.yml",
        "environment",
        "is required for the custom_model 'm1'",
    ),
    "mlflow env file outside the model folder": (
        {
            "mlflow.yml": "name: mlf\npath: mlflow\ntype: mlflow_model\n",
            "mlflow/MLmodel": "flavors:\n  python_function:\n    env: ../model.yml\n",
            "package.yml": BASE["package.yml"] + "model: azureml:m1@latest\n",
        },
        "mlflow/MLmodel",
        "flavors.python_function.env.conda",
        "points outside the model folder",
    ),
    "cpu that is no quantity": (
        {"blue.yml": BASE["blue.yml"] + "resources:\n  limits:\n    cpu: two\n"},
        "blue.yml",
        "resources.limits.cpu",
        "is not a CPU quantity",
    ),
    "memory request above its limit": (
        {
            "blue.yml": BASE["blue.yml"]
            + "resources:\n  requests: {memory: 2Gi}\n  limits: {memory: 1Gi}\n"
        },
        "blue.yml",
        "resources.requests.memory",
        "is more than limits.memory",
    ),
    "autoscaling maximum below its minimum": (
        {
            "blue.yml": BASE["blue.yml"]
            + "scale_settings:\n  type: target_utilization\n  min_instances: 3\n"
            "  max_instances: 2\n"
        },
        "blue.yml",
        "scale_settings.max_instances",
        "is below min_instances (3)",
    ),
    "unknown scale settings type": (
        {"blue.yml": BASE["blue.yml"] + "scale_settings:\n  type: sometimes\n"},
        "blue.yml",
        "scale_settings.type",
        "must be one of default, target_utilization (got 'sometimes')",
    ),
    "yaml asset in a sub-folder": (
        {"more/green.yml": GREEN.replace("instance_count: 1", "instance_count: 0")},
        "more/green.yml",
        "instance_count",
        "greater than or equal to 1",
    ),
}


@pytest.mark.parametrize("changes, file, field, phrase", CASES.values(), ids=CASES.keys())
def test_error_is_reported_at_file_and_field(
    make_workspace: Callable[[Files], Path], changes: Files, file: str, field: str, phrase: str
) -> None:
    folder = make_workspace(changes)
    (folder.parent / "outside").mkdir(exist_ok=True)
    errors = errors_of(folder)
    assert [(e.file, e.field) for e in errors] == [(folder / file, field)], errors
    assert phrase in errors[0].message


def test_base_workspace_is_valid(make_workspace: Callable[[Files], Path]) -> None:
    workspace = load_asset_folder(make_workspace())
    assert workspace.deployment("ep1", "blue").package.name == "pkg1"


def test_error_reads_file_field_message(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(edit("package.yml", "type: azureml_online", "type: azure"))
    (error,) = errors_of(folder)
    assert str(error) == (
        f"{folder}/package.yml: inferencing_server.type: "
        "must be one of azureml_online, custom (got 'azure')"
    )


def test_every_error_is_collected(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        edit("blue.yml", "instance_count: 1", "instance_count: 0")
        | edit("package.yml", "code: src", "code: source")
        | {"model": None}
    )
    with pytest.raises(AssetFolderError) as caught:
        load_asset_folder(folder)
    error = caught.value
    assert len(error.errors) == 3
    lines = str(error).splitlines()
    assert lines[0] == f"3 errors in workspace {folder}:"
    assert sorted(lines[1:]) == sorted(str(e) for e in error.errors)
    assert {e.file.name for e in error.errors} == {"blue.yml", "package.yml", "model.yml"}


def test_relative_folder_is_shown_as_given(
    make_workspace: Callable[[Files], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_workspace(edit("blue.yml", "instance_count: 1", "instance_count: 0"))
    monkeypatch.chdir(folder.parent)
    (error,) = errors_of(Path("ws"))
    assert str(error).startswith("ws/blue.yml: instance_count: ")
