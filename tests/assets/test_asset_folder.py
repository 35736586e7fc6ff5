"""Loading workspaces: what is read, skipped and resolved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from asset_helpers import BASE, CONDA, Files

from modelpack.assets import AssetFolderError, load_asset_folder


def test_files_that_are_not_assets_are_skipped(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        {
            "conda-top.yml": CONDA,  # a conda file at the top level, referenced by nobody
            "Pulumi.yaml": "name: project\nruntime: python\n",
            "sample-request.json": '{"data": [[1, 2]]}',
            "src/not-read.yml": "name: [broken\n",  # a file of the code folder: not read
            "model/config.yaml": "path: elsewhere\n",  # a file of the model folder
            "notes.txt": "name: x\n",
        }
    )
    workspace = load_asset_folder(folder)
    assert sorted(p.name for p in workspace.skipped) == [
        "Pulumi.yaml",
        "conda-top.yml",
        "conda.yaml",  # environment/conda.yaml, named by environment.yml
        "config.yaml",
        "not-read.yml",
    ]


def test_conda_file_at_top_level_referenced_by_environment(
    make_workspace: Callable[[Files], Path],
) -> None:
    folder = make_workspace(
        {
            "conda.yml": CONDA,
            "environment.yml": "name: env1\nimage: python:3.11-slim\nconda_file: conda.yml\n",
        }
    )
    workspace = load_asset_folder(folder)
    assert workspace.environment("env1").conda_file == (folder / "conda.yml").resolve()
    assert [p.name for p in workspace.skipped] == ["conda.yml", "conda.yaml"]


def test_references_pick_versions(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        {
            "environment.yml": BASE["environment.yml"] + "version: 2\n",
            "environment-10.yml": BASE["environment.yml"] + "version: 10\n",
            "environment-old.yml": BASE["environment.yml"] + "version: 1\n",
        }
    )
    workspace = load_asset_folder(folder)
    assert workspace.package("pkg1").base_environment is workspace.environment("env1", "10")
    assert workspace.environment("env1").version == "10"


def test_long_id_and_versioned_references(make_workspace: Callable[[Files], Path]) -> None:
    long_id = (
        "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices"
        "/workspaces/ws/environments/env1/versions/3"
    )
    folder = make_workspace(
        {
            "environment.yml": BASE["environment.yml"] + "version: 3\n",
            "package.yml": BASE["package.yml"].replace("azureml:env1@latest", long_id)
            + "model: azureml://registries/r/models/m1/versions/5\n",
            "model.yml": BASE["model.yml"] + "version: 5\n",
        }
    )
    package = load_asset_folder(folder).package("pkg1")
    assert package.base_environment is not None and package.base_environment.version == "3"
    assert package.model.version == "5"


def test_package_names_its_model(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        {
            "model2.yml": "name: m2\npath: model/weights.bin\n",
            "package.yml": BASE["package.yml"] + "model: azureml:m2@latest\n",
        }
    )
    model = load_asset_folder(folder).package("pkg1").model
    assert model.name == "m2"
    assert model.path == (folder / "model" / "weights.bin").resolve()


def test_scoring_script_alias_in_package(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        {"package.yml": BASE["package.yml"].replace("entry_script:", "scoring_script:")}
    )
    assert load_asset_folder(folder).package("pkg1").entry_script == "score.py"


def test_custom_server_package(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        {
            "package.yml": """\
target_environment_name: pkg1
base_environment_source:
  resource_id: azureml:env1@latest
inferencing_server:
  type: custom
  inference_configuration:
    scoring_route: {port: 8501, path: /v1/models/m1:predict}
    liveness_route: {port: 8501, path: /v1/models/m1}
    readiness_route: {port: 8501, path: /v1/models/m1}
model_configuration:
  mode: copy
  mount_path: /models/m1
"""
        }
    )
    package = load_asset_folder(folder).package("pkg1")
    assert package.server_type == "custom"
    assert package.code_dir is None and package.entry_script is None
    assert package.inference_configuration is not None
    assert package.inference_configuration.scoring_route.port == 8501
    assert package.mount_path == "/models/m1" and package.mode == "copy"


def test_mlflow_model_needs_no_code_or_base(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        {
            "model.yml": "name: m1\npath: model\ntype: mlflow_model\n",
            "model/MLmodel": "flavors: {}\n",
            "package.yml": "target_environment_name: pkg1\n"
            "inferencing_server:\n  type: azureml_online\n",
        }
    )
    package = load_asset_folder(folder).package("pkg1")
    assert package.base_environment is None and package.code_dir is None


def test_inline_model_and_environment(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        {
            "green.yml": """\
name: green
endpoint_name: ep1
model:
  path: model
code_configuration:
  code: src
  entry_script: score.py
environment:
  image: python:3.11-slim
  conda_file: environment/conda.yaml
instance_type: standard_ds2_v2
instance_count: 2
""",
            "endpoint.yml": BASE["endpoint.yml"] + "mirror_traffic:\n  green: 10\n",
        }
    )
    workspace = load_asset_folder(folder)
    green = workspace.deployment("ep1", "green")
    assert green.instance_type.name == "Standard_DS2_v2" and green.instance_count == 2
    assert not green.package_model and green.package.implicit
    assert green.package.model.name == "ep1-green-model" and green.package.model.inline
    assert green.package.base_environment is not None
    assert green.package.base_environment.requirements.python == "3.11"
    assert workspace.endpoint("ep1").mirror_traffic == {"green": 10}
    assert [d.name for d in workspace.deployments_of("ep1")] == ["blue", "green"]


def test_pip_requirements_environment(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace(
        {
            "environment.yml": "name: env1\nimage: python:3.11-slim\n"
            "pip_requirements: requirements.txt\n",
            "requirements.txt": "# pinned\nnumpy==1.26.4  # comment\n\n"
            "--extra-index-url https://example.invalid/simple\n",
        }
    )
    environment = load_asset_folder(folder).environment("env1")
    assert environment.requirements.requirements == [
        "numpy==1.26.4",
        "--extra-index-url https://example.invalid/simple",
    ]
    assert environment.requirements.python is None


def test_environment_hash_follows_requirements(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace()
    before = load_asset_folder(folder).environment("env1").content_hash
    (folder / "environment" / "conda.yaml").write_text(CONDA.replace("1.26.4", "1.26.3"))
    assert load_asset_folder(folder).environment("env1").content_hash != before


def test_decimal_versions_stay_text(make_workspace: Callable[[Files], Path]) -> None:
    folder = make_workspace({"model.yml": BASE["model.yml"] + "version: 1.10\n"})
    assert load_asset_folder(folder).model("m1").version == "1.10"


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AssetFolderError, match="is not a folder"):
        load_asset_folder(tmp_path / "nowhere")
