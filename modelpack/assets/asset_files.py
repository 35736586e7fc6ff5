"""Which files of an asset folder are read as assets.

Every ``*.yml`` / ``*.yaml`` file is, in sub-folders too (Azure's samples keep an environment
in ``environment/<name>.yml`` beside its conda file), except:

- hidden folders (``.git``, ``.venv``) and ``__pycache__``;
- files inside a folder that an asset names as a model or as scoring code (an MLflow
  model's ``conda.yaml`` and ``python_env.yaml``, a configuration file of score.py): they
  belong to that model or code. A folder that holds the very file naming it (``path: .``)
  does not count, or an asset could hide itself.

Conda files and other YAML without an asset's keys are told apart later, by their keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

YAML_SUFFIXES = (".yml", ".yaml")
_SKIPPED_FOLDERS = ("__pycache__",)


def yaml_files(root: Path) -> list[Path]:
    """Every YAML file under `root` (links to folders are not followed): the top level first,
    then each sub-folder, in name order."""
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(".") and name not in _SKIPPED_FOLDERS
        )
        for name in files:
            path = Path(folder) / name
            if path.suffix.lower() in YAML_SUFFIXES and path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: (len(p.relative_to(root).parts), p.as_posix()))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def named_folders(data: Any) -> list[str]:
    """The model and code paths an asset document names, as written."""
    candidates = [
        _get(data, "path"),
        _get(data, "model", "path"),
        _get(data, "code_configuration", "code"),
        _get(data, "inferencing_server", "code_configuration", "code"),
    ]
    return [text for value in candidates if (text := _text(value)) is not None]


def owned_files(documents: Iterable[tuple[Path, Any]], paths: Iterable[Path]) -> set[Path]:
    """Of `paths` (absolute), those inside a model or code folder that one of `documents`
    ((absolute path, parsed data)) names."""
    folders: list[Path] = []
    for path, data in documents:
        for value in named_folders(data):
            folder = (path.parent / value).resolve()
            if folder.is_dir() and not path.is_relative_to(folder):
                folders.append(folder)
    return {path for path in paths if any(path.is_relative_to(f) for f in folders)}
