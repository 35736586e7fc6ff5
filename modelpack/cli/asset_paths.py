"""Paths in an asset YAML brought into the asset folder with it.

A YAML copied in (`online-deployment create -f`, `environment create -f`, `model package
--file`, and `model create --path`) names files relative to where it was. One rule for all:
a file or folder inside the asset folder is named relative to the YAML's new place; one
outside is copied in beside it, as `<yaml name without .yml>/<its name>`, as Azure uploads
code, models and conda files when it creates the asset."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from modelpack.assets import hash_path

from .asset_edit import AssetEdit
from .errors import CliError
from .yaml_roundtrip import YamlDocument

DEPLOYMENT_PATHS = (
    "code_configuration.code",
    "model.path",
    "environment.conda_file",
    "environment.pip_requirements",
)
ENVIRONMENT_PATHS = ("conda_file", "pip_requirements")
PACKAGE_PATHS = ("inferencing_server.code_configuration.code",)


def place(edit: AssetEdit, target: Path, yaml_path: Path) -> str:
    """How the YAML at `yaml_path` (in the asset folder) names `target`, copying it in when
    it is outside the folder."""
    target = target.resolve()
    if not target.exists():
        raise CliError(f"{target} does not exist; nothing was written")
    if target.is_relative_to(edit.folder):
        return os.path.relpath(target, yaml_path.parent)
    copied = yaml_path.parent / yaml_path.stem / target.name
    if copied.exists():
        if hash_path(copied) != hash_path(target):  # else: copied in before, by the same command
            raise CliError(
                f"{edit.shown_path(copied)} already exists, with other content than {target}; "
                "nothing was written",
                "edit the copy in the asset folder (it is what deploys), or remove it to copy "
                "again",
            )
    elif not edit.will_create(copied):
        edit.copy(target, copied)
    return os.path.relpath(copied, yaml_path.parent)


def bring_in(
    edit: AssetEdit,
    document: YamlDocument,
    fields: Sequence[str],
    source_dir: Path,
    yaml_path: Path,
) -> None:
    """Rewrite each local path `fields` name (dotted) in `document`, written relative to
    `source_dir`, for the YAML's new place `yaml_path`."""
    for dotted in fields:
        *parents, key = dotted.split(".")
        node = document.data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or not isinstance(node.get(key), str):
            continue
        value = node[key]
        if value.startswith("azureml:") or "://" in value:
            continue
        node[key] = place(edit, source_dir / value, yaml_path)
