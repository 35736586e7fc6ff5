"""Where things live inside a package image, following Azure ML's layout so that score.py
files written for Azure ML find their model unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from modelpack.assets import PackageAsset
from modelpack.names import SERVER_PORT

APP_ROOT = PurePosixPath("/var/azureml-app")
ENV_DIR = PurePosixPath("/opt/env")
SERVER_DIR = PurePosixPath("/opt/modelpack")
USER_ID = 1000


@dataclass(frozen=True)
class ContainerLayout:
    model_dir: PurePosixPath
    """AZUREML_MODEL_DIR: the registered model version's folder; the model keeps its own
    file or folder name under it."""
    code_dir: PurePosixPath | None
    entry_script: PurePosixPath | None
    port: int


def layout_for(package: PackageAsset, model_version: str) -> ContainerLayout:
    if package.server_type == "custom":
        model_dir = PurePosixPath(package.mount_path or f"/models/{package.model.name}")
        port = package.inference_configuration.scoring_route.port
        return ContainerLayout(model_dir=model_dir, code_dir=None, entry_script=None, port=port)
    model_dir = PurePosixPath(
        package.mount_path or APP_ROOT / "azureml-models" / package.model.name / model_version
    )
    if package.code_dir is None:
        return ContainerLayout(model_dir, None, None, SERVER_PORT)
    code_dir = APP_ROOT / package.code_dir.name
    return ContainerLayout(model_dir, code_dir, code_dir / package.entry_script, SERVER_PORT)
