"""Asset folders laid out as Azure's online-endpoint samples (tests/support/azure_samples.py)
load as Azure reads them (issue 16): `target_environment`, assets in sub-folders, versions
Azure assigns, MLflow deployments without an environment, the MLflow model's own conda file,
and model and code folders beside the asset folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelpack.assets import AssetFolderError, SpecError, load_asset_folder
from modelpack.assets.versions import AutoVersion
from tests.support import azure_samples as samples

MLMODEL = """\
flavors:
  python_function:
    env: conda.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.7
"""
MLFLOW_CONDA = """\
channels: [conda-forge]
dependencies:
  - python=3.11.7
  - pip
  - pip:
    - mlflow-skinny==3.17.2
    - scikit-learn==1.9.1
name: mlflow-env
"""


def errors_of(folder: Path, **kwargs) -> list[SpecError]:
    with pytest.raises(AssetFolderError) as caught:
        load_asset_folder(folder, **kwargs)
    return caught.value.errors


def only_error(folder: Path, **kwargs) -> str:
    (error,) = errors_of(folder, **kwargs)
    return str(error)


def fake_mlflow_model(folder: Path, mlmodel: str = MLMODEL, **files: str) -> None:
    """An MLflow model folder written by hand (loading never unpickles it)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text(mlmodel)
    (folder / "model.pkl").write_bytes(b"not a pickle")
    for name, text in {"conda.yaml": MLFLOW_CONDA, **files}.items():
        (folder / name.replace("__", ".")).write_text(text)
    (folder / "requirements.txt").write_text(samples.STALE_REQUIREMENTS)


@pytest.fixture
def custom(tmp_path: Path) -> Path:
    return samples.write_custom_model_sample(tmp_path / "custom-model")


@pytest.fixture
def mlflow_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(samples, "write_mlflow_model", fake_mlflow_model)
    return samples.write_mlflow_model_sample(tmp_path / "mlflow-model")


# -- 1. target_environment ------------------------------------------------------------------


def test_packages_named_with_target_environment(custom: Path) -> None:
    assets = load_asset_folder(custom)
    moe = assets.package(samples.CUSTOM_MOE)
    portable = assets.package(samples.CUSTOM_PORTABLE)
    assert (moe.mode, portable.mode) == ("readonly_mount", "copy")
    assert moe.model.name == "sklearn-regression"


def test_both_target_keys_are_refused(custom: Path) -> None:
    path = custom / "package-moe.yml"
    path.write_text(path.read_text() + "target_environment_name: other-pkg\n")
    message = only_error(custom)
    assert message.startswith(f"{custom / 'package-moe.yml'}: target_environment: ")
    assert "not both" in message


def test_duplicate_package_names_the_key_it_was_given_under(custom: Path) -> None:
    path = custom / "package-external.yml"
    path.write_text(path.read_text().replace(samples.CUSTOM_PORTABLE, samples.CUSTOM_MOE))
    messages = [str(e) for e in errors_of(custom)]
    assert any(
        m.startswith(f"{custom / 'package-moe.yml'}: target_environment: duplicate")
        or m.startswith(f"{custom / 'package-external.yml'}: target_environment: duplicate")
        for m in messages
    ), messages


# -- 2. assets in sub-folders ---------------------------------------------------------------


def test_environment_in_a_sub_folder_with_its_conda_file_beside_it(custom: Path) -> None:
    assets = load_asset_folder(custom)
    environment = assets.environment("sklearn-regression-env")
    assert environment.file == custom / "environment" / "sklearn-regression-env.yml"
    assert environment.conda_file == (custom / "environment" / "conda.yaml").resolve()
    assert "scikit-learn==1.9.1" in environment.requirements.requirements
    assert assets.skipped == [custom / "environment" / "conda.yaml"]


def test_errors_in_a_sub_folder_name_its_file(custom: Path) -> None:
    path = custom / "environment" / "sklearn-regression-env.yml"
    path.write_text(path.read_text().replace("conda_file: conda.yaml", "conda_file: nope.yaml"))
    message = only_error(custom)
    assert message == f"{path}: conda_file: conda file 'nope.yaml' does not exist"


def test_files_of_model_and_code_folders_are_not_assets(mlflow_sample: Path) -> None:
    (mlflow_sample / "model" / "python_env.yaml").write_text("python: 3.11.7\n")
    (mlflow_sample / "model" / "broken.yml").write_text("name: [\n")
    (mlflow_sample / "notes").mkdir()
    (mlflow_sample / "notes" / "settings.yml").write_text("colour: blue\n")
    assets = load_asset_folder(mlflow_sample)
    assert sorted(p.name for p in assets.skipped) == [
        "broken.yml",
        "conda.yaml",
        "python_env.yaml",
        "settings.yml",
    ]


# -- 3. versions Azure assigns --------------------------------------------------------------


def test_version_1_of_an_environment_written_without_one(custom: Path) -> None:
    assets = load_asset_folder(custom)
    environment = assets.environment("sklearn-regression-env")
    assert assets.package(samples.CUSTOM_MOE).base_environment is environment


def test_another_version_lists_the_known_ones(custom: Path) -> None:
    path = custom / "package-moe.yml"
    path.write_text(
        path.read_text().replace("sklearn-regression-env:1", "sklearn-regression-env:4")
    )
    message = only_error(custom)
    assert message.startswith(f"{path}: base_environment_source.resource_id: ")
    assert "has no version '4'" in message and "(versions: 1)" in message
    assert "azureml:sklearn-regression-env:1 or azureml:sklearn-regression-env@latest" in message


def test_model_versions_come_from_the_workspace(custom: Path) -> None:
    path = custom / "model-deployment.yml"
    path.write_text(path.read_text().replace("sklearn-regression@latest", "sklearn-regression:3"))
    registered = AutoVersion("3", ("1", "2", "3"))
    assets = load_asset_folder(custom, model_versions=lambda model: registered)
    assert assets.deployment(samples.CUSTOM_ENDPOINT, "regular_deployment").package.model.name == (
        "sklearn-regression"
    )
    moved = AutoVersion("4", ("1", "2", "3", "4"))
    message = only_error(custom, model_versions=lambda model: moved)
    assert message.startswith(f"{path}: model: model 'sklearn-regression' has no version '3'")
    assert "(versions: 1, 2, 3, 4)" in message


def test_a_package_by_version_1(custom: Path) -> None:
    path = custom / "deployment.yml"
    path.write_text(
        path.read_text().replace(f"{samples.CUSTOM_MOE}@latest", f"{samples.CUSTOM_MOE}:1")
    )
    assets = load_asset_folder(custom)
    assert assets.deployment(samples.CUSTOM_ENDPOINT, "with-package").package.name == (
        samples.CUSTOM_MOE
    )


# -- 4. MLflow deployments without code or environment --------------------------------------


@pytest.mark.parametrize("package_model", [True, False])
def test_mlflow_deployment_of_the_model_alone(tmp_path: Path, monkeypatch, package_model) -> None:
    monkeypatch.setattr(samples, "write_mlflow_model", fake_mlflow_model)
    folder = samples.write_mlflow_model_sample(tmp_path / "s", package_model=package_model)
    assets = load_asset_folder(folder)
    deployment = assets.deployment(samples.MLFLOW_ENDPOINT, "with-package-inline")
    assert deployment.package.base_environment is None
    assert deployment.package.code_dir is None
    assert deployment.package_model is package_model
    assert deployment.package.model.mlflow_environment is not None


def test_custom_model_without_environment_is_refused(custom: Path) -> None:
    path = custom / "model-deployment.yml"
    path.write_text(
        path.read_text().replace("environment: azureml:sklearn-regression-env@latest\n", "")
    )
    message = only_error(custom)
    assert message == (
        f"{path}: environment: is required for the custom_model 'sklearn-regression' (only an "
        "mlflow_model brings its own environment)"
    )


def test_nothing_to_run_is_refused(custom: Path) -> None:
    path = custom / "deployment.yml"
    path.write_text(
        path.read_text().replace(f"environment: azureml:{samples.CUSTOM_MOE}@latest\n", "")
    )
    assert only_error(custom).startswith(f"{path}: environment: is required")


# -- 5. the MLflow environment comes from the model's conda file ----------------------------


def mlflow_environment(folder: Path):
    assets = load_asset_folder(folder)
    return assets.model(samples.MLFLOW_MODEL).mlflow_environment


def test_the_conda_file_wins_over_requirements_txt(mlflow_sample: Path) -> None:
    environment = mlflow_environment(mlflow_sample)
    assert environment.source == mlflow_sample / "model" / "conda.yaml"
    assert environment.mlmodel == mlflow_sample / "model" / "MLmodel"
    assert environment.requirements.python == "3.11.7"
    assert environment.requirements.requirements == ["mlflow-skinny==3.17.2", "scikit-learn==1.9.1"]


def test_env_as_a_mapping_names_the_conda_file(mlflow_sample: Path) -> None:
    mlmodel = mlflow_sample / "model" / "MLmodel"
    mlmodel.write_text(
        mlmodel.read_text().replace(
            "env: conda.yaml", "env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml"
        )
    )
    assert mlflow_environment(mlflow_sample).source == mlflow_sample / "model" / "conda.yaml"


def test_without_a_conda_file_python_env_and_requirements(mlflow_sample: Path) -> None:
    model = mlflow_sample / "model"
    (model / "conda.yaml").unlink()
    (model / "MLmodel").write_text(
        MLMODEL.replace("env: conda.yaml", "env: {virtualenv: python_env.yaml}")
    )
    (model / "python_env.yaml").write_text("python: 3.11.4\ndependencies:\n- -r requirements.txt\n")
    (model / "requirements.txt").write_text("scikit-learn==1.9.1\n# a comment\nnumpy==2.4.6\n")
    environment = mlflow_environment(mlflow_sample)
    assert environment.source == model / "requirements.txt"
    assert environment.requirements.python == "3.11.4"
    assert environment.requirements.requirements == ["scikit-learn==1.9.1", "numpy==2.4.6"]


def test_requirements_txt_alone(mlflow_sample: Path) -> None:
    model = mlflow_sample / "model"
    (model / "conda.yaml").unlink()
    (model / "MLmodel").write_text(MLMODEL.replace("    env: conda.yaml\n", ""))
    (model / "requirements.txt").write_text("scikit-learn==1.9.1\n")
    environment = mlflow_environment(mlflow_sample)
    assert environment.requirements.python == "3.11.7"  # python_version
    assert environment.requirements.requirements == ["scikit-learn==1.9.1"]


def test_a_conda_package_without_pip_equivalent_names_the_models_conda_file(
    mlflow_sample: Path,
) -> None:
    conda = mlflow_sample / "model" / "conda.yaml"
    conda.write_text(MLFLOW_CONDA.replace("  - pip\n", "  - pip\n  - cudatoolkit=11.8\n"))
    message = only_error(mlflow_sample)
    assert message.startswith(f"{conda}: dependencies: ")
    assert "cudatoolkit=11.8" in message


def test_an_env_file_outside_the_model_folder_is_refused(mlflow_sample: Path) -> None:
    mlmodel = mlflow_sample / "model" / "MLmodel"
    mlmodel.write_text(MLMODEL.replace("env: conda.yaml", "env: ../model.yml"))
    message = only_error(mlflow_sample)
    assert message == (
        f"{mlmodel}: flavors.python_function.env.conda: '../model.yml' points outside the "
        "model folder"
    )


# -- 8. shared model folders ----------------------------------------------------------------


def test_quickstart_reaches_model_folders_inside_its_repository(tmp_path: Path) -> None:
    sample = samples.write_quickstart_sample(tmp_path / "repo")
    assets = load_asset_folder(sample)
    online = (tmp_path / "repo" / "cli" / "endpoints" / "online").resolve()
    for color, number in (("blue", 1), ("green", 2)):
        package = assets.deployment(samples.QUICKSTART_ENDPOINT, color).package
        assert package.model.path == online / f"model-{number}" / "model"
        assert package.code_dir == online / f"model-{number}" / "onlinescoring"
        environment = package.base_environment
        assert environment.conda_file == online / f"model-{number}" / "environment" / "conda.yaml"


def test_outside_the_repository_is_refused(tmp_path: Path) -> None:
    sample = samples.write_quickstart_sample(tmp_path / "repo")
    blue = sample / "blue-deployment.yml"
    blue.write_text(blue.read_text().replace("../../model-1/model/", "../../../../../../model/"))
    message = only_error(sample)
    assert message == (
        f"{blue}: model.path: '../../../../../../model/' points outside the repository "
        f"{(tmp_path / 'repo').resolve()}"
    )


def test_without_a_repository_the_asset_folder_is_the_boundary(tmp_path: Path) -> None:
    sample = samples.write_quickstart_sample(tmp_path / "repo")
    subprocess.run(["rm", "-rf", str(tmp_path / "repo" / ".git")], check=True)
    fields = sorted(e.field for e in errors_of(sample))
    assert fields == sorted(
        f"{field}"
        for field in ["model.path", "code_configuration.code", "environment.conda_file"] * 2
    )
    assert all("points outside the workspace folder" in str(e) for e in errors_of(sample))


def test_a_root_named_by_the_stack(tmp_path: Path) -> None:
    sample = samples.write_quickstart_sample(tmp_path / "repo")
    subprocess.run(["rm", "-rf", str(tmp_path / "repo" / ".git")], check=True)
    assert load_asset_folder(sample, root=tmp_path / "repo").deployments
    errors = errors_of(sample, root=tmp_path / "repo" / "cli" / "endpoints" / "online" / "managed")
    assert len(errors) == 6
    assert all("(modelpack:assetRoot)" in str(e) for e in errors)
