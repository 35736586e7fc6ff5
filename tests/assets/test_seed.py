"""The seed document's files load exactly as written."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from asset_helpers import SCORE, write_files

from modelpack.assets import (
    AssetKind,
    CondaFile,
    ManagedOnlineDeployment,
    ModelPackage,
    conda_to_pip,
    detect_kind,
    load_asset_folder,
)


def read(seed: Path, name: str) -> dict:
    return yaml.safe_load((seed / name).read_text())


def test_package_moe_loads_as_written(seed: Path) -> None:
    data = read(seed, "package-moe.yml")
    assert detect_kind(data) is AssetKind.PACKAGE
    package = ModelPackage.model_validate(data)
    assert package.target_environment_name == "sklearn-regression-online-pkg"
    assert package.base_environment_source is not None
    assert package.base_environment_source.type == "environment_asset"
    assert package.base_environment_source.resource_id == "azureml:sklearn-regression-env@latest"
    assert package.inferencing_server.type == "azureml_online"
    code = package.inferencing_server.code_configuration
    assert code is not None and (code.code, code.entry_script) == ("src", "score.py")
    assert package.model_configuration.mode == "readonly_mount"  # the default
    assert package.model is None


def test_package_azure_app_loads_as_written(seed: Path) -> None:
    data = read(seed, "package-azure-app.yml")
    assert detect_kind(data) is AssetKind.PACKAGE
    package = ModelPackage.model_validate(data)
    assert package.target_environment_name == "sklearn-regression-docker-pkg"
    assert package.model_configuration.mode == "copy"


def test_deployment_loads_as_written(seed: Path) -> None:
    data = read(seed, "deployment.yml")
    assert detect_kind(data) is AssetKind.DEPLOYMENT
    deployment = ManagedOnlineDeployment.model_validate(data)
    assert deployment.name == "with-package"
    assert deployment.endpoint_name == "hello-packages"
    assert deployment.environment == "azureml:sklearn-regression-online-pkg@latest"
    assert deployment.instance_type == "Standard_DS3_v2"
    assert deployment.instance_count == 1
    assert deployment.model is None and deployment.code_configuration is None


def test_conda_loads_as_written_and_converts(seed: Path) -> None:
    data = read(seed, "conda.yaml")
    assert detect_kind(data) is None  # a conda file is not an asset
    conda = CondaFile.model_validate(data)
    assert conda.name == "model-env"
    assert conda.channels == ["conda-forge"]
    pip = conda_to_pip(conda)
    assert pip.python == "3.9"
    assert pip.pip == "23.0.1"
    assert pip.requirements == ["numpy==1.23.5", "scikit-learn==1.2.2", "scipy==1.10.1"]


def test_seed_files_form_a_workspace(seed: Path, tmp_path: Path) -> None:
    """The seed's files, verbatim, next to the model, environment and endpoint the seed
    creates on the command line."""
    root = tmp_path / "seed-ws"
    root.mkdir()
    for name in ("package-moe.yml", "package-azure-app.yml", "deployment.yml"):
        shutil.copy(seed / name, root / name)
    (root / "environment").mkdir()
    shutil.copy(seed / "conda.yaml", root / "environment" / "conda.yaml")
    write_files(
        root,
        {
            "model.yml": "name: sklearn-regression\npath: model\ntype: custom_model\n",
            "model/sklearn_regression_model.pkl": "stand-in\n",
            "sklearn-regression-env.yml": """
                name: sklearn-regression-env
                image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04
                conda_file: environment/conda.yaml
                """,
            "endpoint.yml": "name: hello-packages\nauth_mode: key\ntraffic:\n  with-package: 100\n",
            "src/score.py": SCORE,
        },
    )
    workspace = load_asset_folder(root)
    deployment = workspace.deployment("hello-packages", "with-package")
    assert deployment.package.name == "sklearn-regression-online-pkg"
    assert deployment.package.model.name == "sklearn-regression"
    assert deployment.package.base_environment is not None
    assert deployment.package.base_environment.requirements.python == "3.9"
    assert workspace.package("sklearn-regression-docker-pkg").mode == "copy"
