"""Model: registered model content, identified by a hash of its files.

The workspace's model store (`<store>/<name>/<version>/<file or folder>`) is the registry:
deployments of `readonly_mount` packages mount a version folder read-only. Without a version in
model.yml, the version is the store's version with the same content hash, or one more than the
latest, as registering a new model version does in Azure ML. The version is decided when the
program runs, so `pulumi preview` already shows which version an `up` will register.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from modelpack import names
from modelpack.assets import ModelAsset, next_version

HASH_FILE = ".modelpack-hash"
OWNERS_DIR = ".modelpack-owners"
"""`<store>/<name>/.modelpack-owners/<version>/`: one file per resource that registered the
version (see ModelVersionProvider)."""


def registered_versions(store: Path, name: str) -> dict[str, str]:
    """version -> content hash of every version of `name` in the store."""
    versions = {}
    for marker in sorted((store / name).glob(f"*/{HASH_FILE}")):
        if not marker.parent.name.startswith("."):  # a registration being copied in
            versions[marker.parent.name] = marker.read_text().strip()
    return versions


def version_for(asset: ModelAsset, store: Path) -> str:
    if asset.version is not None:
        return str(asset.version)
    versions = registered_versions(store, asset.name)
    for version, content_hash in versions.items():
        if content_hash == asset.content_hash:
            return version
    if not versions:
        return next_version(None, asset.content_hash)
    latest = max(versions, key=lambda v: [int(p) if p.isdigit() else p for p in v.split(".")])
    return next_version({"version": latest, "hash": versions[latest]}, asset.content_hash)


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
        keys = ["name", "version", "content_hash", "path"]
        replaces = [key for key in keys if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=False)

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


class ModelVersion(Resource, module="registry", name="ModelVersion"):
    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions):
        super().__init__(ModelVersionProvider(), resource_name, props, opts)


@dataclass
class ModelArgs:
    asset: ModelAsset
    store: Path
    """The workspace's model store folder."""


class Model(pulumi.ComponentResource):
    name: str
    version: str
    content_hash: str
    store_path: pulumi.Output[str]
    """`<store>/<name>/<version>`: the folder AZUREML_MODEL_DIR shows a deployment."""

    def __init__(
        self, resource_name: str, args: ModelArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(names.MODEL, resource_name, None, opts)
        asset = args.asset
        self.name = asset.name
        self.version = version_for(asset, args.store)
        self.content_hash = asset.content_hash
        path = args.store / asset.name / self.version
        registration = ModelVersion(
            f"{resource_name}-version",
            {
                "name": asset.name,
                "version": self.version,
                "content_hash": asset.content_hash,
                "source": str(asset.path),
                "path": str(path),
                "type": asset.type,
            },
            pulumi.ResourceOptions(parent=self),
        )
        self.store_path = registration.id.apply(lambda _: str(path))
        self.register_outputs(
            {
                "name": self.name,
                "version": self.version,
                "content_hash": self.content_hash,
                "store_path": self.store_path,
            }
        )
