"""`model create`, `environment create` and the package spec of `model package`, checked
with the real asset loader on a copy of the example folder (no stack)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelpack.cli.asset_create import create_environment, create_model, package_file
from modelpack.cli.errors import CliError
from tests.support.asset_workspace import commit, example_workspace

SPEC = """\
$schema: http://azureml/sdk-2-0/ModelVersionPackage.json
base_environment_source:
    type: environment_asset
    resource_id: azureml:sklearn-regression-env:1
target_environment: sklearn-regression-external-pkg
inferencing_server:
    type: azureml_online
    code_configuration:
        code: src
        scoring_script: score.py
model_configuration:
    mode: copy
"""


def test_a_model_from_outside_is_copied_in_keeping_its_name(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    outside = tmp_path / "trained" / "weights"
    outside.mkdir(parents=True)
    (outside / "w.json").write_text("{}")
    # the example's packages name no model: a second model needs them to say which
    for name in ("package-moe.yml", "package-azure-app.yml"):
        path = ws.folder / name
        path.write_text(path.read_text() + "model: azureml:sklearn-regression@latest\n")
    edit = create_model(ws, ws.current(), "weights", outside, "custom_model", None, "mine")
    folder = commit(ws, edit)
    model = folder.model("weights")
    assert model.path == ws.folder / "model-weights" / "weights"
    assert (ws.folder / "model-weights.yml").read_text().splitlines()[1:] == [
        "name: weights",
        "path: model-weights/weights",
        "type: custom_model",
        "description: mine",
    ]


def test_a_model_inside_the_folder_is_named_where_it_is(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    (ws.folder / "package-moe.yml").unlink()
    (ws.folder / "package-azure-app.yml").unlink()
    (ws.folder / "blue.yml").unlink()
    (ws.folder / "endpoint.yml").write_text(
        (ws.folder / "endpoint.yml")
        .read_text()
        .replace("blue: 80", "blue: 0")
        .replace("green: 20", "green: 100")
    )
    (ws.folder / "endpoint.yml").write_text(
        (ws.folder / "endpoint.yml").read_text().replace("  blue: 0\n", "")
    )
    green = ws.folder / "green.yml"
    green.write_text(
        green.read_text().replace(
            "azureml:sklearn-regression@latest", "azureml:sklearn-regression:1"
        )
    )
    edit = create_model(ws, ws.current(), "copy", ws.folder / "model", "custom_model", "2", None)
    assert [c.action for c in edit.changes] == ["created"]
    folder = commit(ws, edit)
    assert folder.model("copy", "2").path == ws.folder / "model"
    with pytest.raises(
        CliError, match=r"model 'copy' version 2 is already defined in ws/model-copy-2.yml"
    ):
        create_model(ws, ws.current(), "copy", ws.folder / "model", "custom_model", "2", None)


def test_an_environment_comes_with_its_conda_file(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    source = tmp_path / "env"
    source.mkdir()
    (source / "conda.yaml").write_text("dependencies:\n  - python=3.11\n")
    (source / "env.yml").write_text(
        "name: plain\nimage: python:3.11-slim\nconda_file: conda.yaml\n"
    )
    edit, name = create_environment(ws, ws.current(), source / "env.yml", None, None)
    folder = commit(ws, edit)
    assert name == "plain"
    assert folder.environment("plain").conda_file == ws.folder / "environment-plain" / "conda.yaml"
    assert (ws.folder / "environment-plain.yml").read_text() == (
        "name: plain\nimage: python:3.11-slim\nconda_file: environment-plain/conda.yaml\n"
    )
    with pytest.raises(
        CliError, match="environment 'plain' .written without a version. is already"
    ):
        create_environment(ws, ws.current(), source / "env.yml", None, None)


def test_an_environment_whose_conda_file_is_missing_writes_nothing(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    (tmp_path / "env.yml").write_text("name: e\nimage: python:3.11-slim\nconda_file: nope.yaml\n")
    with pytest.raises(CliError, match="nope.yaml does not exist"):
        create_environment(ws, ws.current(), tmp_path / "env.yml", None, None)
    assert not (ws.folder / "environment-e.yml").exists()


def test_a_package_spec_names_the_model_az_took_on_its_command_line(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    source = tmp_path / "sample"
    (source / "src").mkdir(parents=True)
    (source / "src" / "score.py").write_text((ws.folder / "src" / "score.py").read_text())
    (source / "package-external.yml").write_text(SPEC)
    edit, package = package_file(
        ws, ws.current(), source / "package-external.yml", "sklearn-regression", "1"
    )
    folder = commit(ws, edit)
    assert package == "sklearn-regression-external-pkg"
    built = folder.package(package)
    assert built.model.name == "sklearn-regression" and built.mode == "copy"
    assert built.code_dir == ws.folder / "package-external" / "src"
    text = (ws.folder / "package-external.yml").read_text()
    assert text.endswith("model: azureml:sklearn-regression:1\n")
    assert "        code: package-external/src\n" in text  # the file's 4-space indentation
    # the same command again rewrites the same file, and copies nothing more
    again, _ = package_file(
        ws, ws.current(), source / "package-external.yml", "sklearn-regression", "1"
    )
    assert [(c.action, str(c.path)) for c in again.changes] == [("written", "package-external.yml")]
    # a version the workspace does not give is refused naming the file
    bad, _ = package_file(
        ws, ws.current(), source / "package-external.yml", "sklearn-regression", "7"
    )
    with pytest.raises(
        CliError,
        match="ws/package-external.yml: model: model 'sklearn-regression' has no version '7'",
    ):
        bad.validate(ws.load)
