"""ModelVersion: one registration of a model version in the workspace's model store
(`<store>/<name>/<version>/<file or folder>`), the folder `readonly_mount` replicas mount."""

from __future__ import annotations

import contextlib
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from .diff import diff_inputs, props_of

HASH_FILE = ".modelpack-hash"
OWNERS_DIR = ".modelpack-owners"
"""`<store>/<name>/.modelpack-owners/<version>/`: one file per resource that registered the
version (see ModelVersionProvider)."""


class ModelVersionError(Exception):
    pass


def _claims(version_dir: Path) -> Path:
    """Beside the version folder, not in it: replicas mount the version folder, and the server
    looks for an MLflow model as its only sub-folder."""
    return version_dir.parent / OWNERS_DIR / version_dir.name


def _register(source: Path, version_dir: Path, content_hash: str) -> None:
    """Copy `source` into `version_dir`, or keep the folder when it already holds this content
    (a replica may mount it). Content is copied beside the folder and renamed into place."""
    marker = version_dir / HASH_FILE
    if marker.is_file() and marker.read_text().strip() == content_hash:
        return
    others = sorted(p.name for p in _claims(version_dir).glob("*"))
    if version_dir.exists() and others:
        raise ModelVersionError(
            f"{version_dir} already holds other content, registered by {', '.join(others)}: "
            "a registered version never changes; give the model a new version"
        )
    staging = version_dir.with_name(f".{version_dir.name}.{secrets.token_hex(4)}")
    staging.mkdir(parents=True)
    if source.is_dir():
        shutil.copytree(source, staging / source.name, symlinks=True)
    else:
        shutil.copy2(source, staging / source.name, follow_symlinks=False)
    (staging / HASH_FILE).write_text(content_hash)
    if version_dir.exists():
        shutil.rmtree(version_dir)
    staging.rename(version_dir)


class ModelVersionProvider(ResourceProvider):
    """One registration of a model version. Several resources may register the same version
    folder (a rename, such as pinning `version:`, creates the new resource before it deletes
    the old one): each records its claim in the folder, and the folder is removed only with
    the last claim."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        version_dir = Path(props["path"])
        _register(Path(props["source"]), version_dir, props["content_hash"])
        owner = secrets.token_hex(8)
        _claims(version_dir).mkdir(parents=True, exist_ok=True)
        (_claims(version_dir) / owner).write_text(f"{props['name']}:{props['version']}\n")
        return CreateResult(f"{props['name']}:{props['version']}:{owner}", props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # The type is recorded; anything else but the source path is another registration.
        # The source is where this checkout holds the content, which the content hash already
        # stands for: another clone of the workspace (its own path) changes nothing.
        return diff_inputs(
            ModelVersionArgs,
            olds,
            news,
            replace=("name", "version", "content_hash", "path"),
            where_from=("source",),
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        marker = Path(props["path"]) / HASH_FILE
        if not marker.is_file():
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "content_hash": marker.read_text().strip()})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        version_dir = Path(props["path"])
        owner = id_.rsplit(":", 2)[-1] if id_.count(":") >= 2 else None
        if owner is not None:
            (_claims(version_dir) / owner).unlink(missing_ok=True)
        # Registrations made before claims were recorded hold none: the folder then goes once
        # no claim of a newer registration is left in it.
        if not any(_claims(version_dir).glob("*")):
            shutil.rmtree(version_dir, ignore_errors=True)
            for empty in (_claims(version_dir), _claims(version_dir).parent):
                with contextlib.suppress(OSError):
                    empty.rmdir()


@dataclass
class ModelVersionArgs:
    name: str
    version: str
    content_hash: str
    source: str
    """The model's file or folder in the workspace."""
    path: str
    """`<store>/<name>/<version>`."""
    type: str


class ModelVersion(Resource, module="registry", name="ModelVersion"):
    def __init__(
        self,
        resource_name: str,
        args: ModelVersionArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(ModelVersionProvider(), resource_name, props_of(args), opts)
