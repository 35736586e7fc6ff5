"""The changes `model create`, `environment create` and `model package` make to a
workspace's asset folder, as `AssetEdit`s (files outside the folder are brought in as
cli/asset_paths.py says):

- `model create --name N --path P --type T` writes `model-N.yml` (`model-N-V.yml` with a
  version); a path outside the folder is copied in as `model-N/<its name>`, so the model keeps
  its file or folder name (`AZUREML_MODEL_DIR/<name>`).
- `environment create -f env.yml` copies the YAML in as `environment-N.yml`, its conda file
  (or pip requirements) as `environment-N/<its name>`.
- `model package --name N --version V --file package.yml` copies the package spec in with
  `model: azureml:N:V` (az takes the model on the command line; here the spec names it), or
  rewrites the file of the package with the same name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelpack.assets import AssetFolder

from .asset_edit import AssetEdit
from .asset_paths import ENVIRONMENT_PATHS, PACKAGE_PATHS, bring_in, place
from .errors import CliError
from .workspace_assets import WorkspaceAssets
from .yaml_roundtrip import YamlDocument

MODEL_SCHEMA = "https://azuremlschemas.azureedge.net/latest/model.schema.json"


def _new_file(ws: WorkspaceAssets, kind: str, name: str, version: str | None) -> Path:
    path = ws.folder / (f"{kind}-{name}" + (f"-{version}" if version else "") + ".yml")
    if path.exists():
        raise CliError(
            f"{ws.shown / path.name} already exists; nothing was written",
            "move it away, or give another --name or --version",
        )
    return path


def _taken(
    ws: WorkspaceAssets, assets: list[Any], kind: str, name: str, version: str | None
) -> None:
    for asset in assets:
        if asset.name == name and asset.version == version:
            where = ws.shown / asset.file.relative_to(ws.folder)
            which = f"version {version}" if version else "(written without a version)"
            raise CliError(
                f"{kind} '{name}' {which} is already defined in {where}; nothing was written",
                f"edit that file (an unversioned {kind} is rebuilt when it changes), or pass "
                "another --version",
            )


def create_model(
    ws: WorkspaceAssets,
    assets: AssetFolder,
    name: str,
    path: Path,
    model_type: str,
    version: str | None,
    description: str | None,
) -> AssetEdit:
    _taken(ws, assets.models, "model", name, version)
    yaml_path = _new_file(ws, "model", name, version)
    if not path.exists():
        raise CliError(f"--path {path} does not exist", "give the model's file or folder")
    edit = ws.edit()
    named = place(edit, path, yaml_path)
    document = YamlDocument(f"$schema: {MODEL_SCHEMA}\n", f"model {name}")
    document.set("name", name)
    if version:
        document.set("version", version)
    document.set("path", named)
    document.set("type", model_type)
    if description:
        document.set("description", description)
    edit.write(yaml_path, document.dumps(), f"model {name} ({model_type}), path {named}")
    return edit


def create_environment(
    ws: WorkspaceAssets,
    assets: AssetFolder,
    file: Path,
    name: str | None,
    version: str | None,
) -> tuple[AssetEdit, str]:
    """The edit, and the environment's name."""
    source = file.resolve()
    document = YamlDocument.read(source, file)
    if name:
        document.set("name", name)
    if version:
        document.set("version", version)
    env_name = document.get("name")
    if not env_name:
        raise CliError(f"{file}: no name", "give it in the file or with --name")
    env_version = str(document.get("version")) if document.get("version") is not None else None
    _taken(ws, assets.environments, "environment", str(env_name), env_version)
    if source.is_relative_to(ws.folder):
        raise CliError(
            f"{file} is already in the asset folder {ws.shown} of workspace '{ws.workspace}'",
            f"`modelpack up -w {ws.workspace}` builds it",
        )
    yaml_path = _new_file(ws, "environment", str(env_name), env_version)
    edit = ws.edit()
    bring_in(edit, document, ENVIRONMENT_PATHS, source.parent, yaml_path)
    edit.write(yaml_path, document.dumps(), f"environment {env_name}")
    return edit, str(env_name)


def package_file(
    ws: WorkspaceAssets,
    assets: AssetFolder,
    file: Path,
    model: str,
    version: str | None,
) -> tuple[AssetEdit, str]:
    """The edit that puts the package spec `file` into the folder naming `model`; and the
    package's name."""
    source = file.resolve()
    document = YamlDocument.read(source, file)
    package = document.get("target_environment") or document.get("target_environment_name")
    if not package:
        raise CliError(f"{file}: no target_environment", "name the package the spec builds")
    document.set("model", f"azureml:{model}:{version}" if version else f"azureml:{model}@latest")
    existing = next((p for p in assets.packages if p.name == str(package) and not p.implicit), None)
    if existing is not None:
        destination = ws.path(existing.file)
    elif source.is_relative_to(ws.folder):
        destination = source
    else:
        destination = ws.folder / file.name
        if destination.exists():
            destination = _new_file(ws, "package", str(package), None)
    edit = ws.edit()
    if not source.is_relative_to(ws.folder):
        bring_in(edit, document, PACKAGE_PATHS, source.parent, destination)
    edit.write(destination, document.dumps(), f"package {package} of model {model}")
    return edit, str(package)
