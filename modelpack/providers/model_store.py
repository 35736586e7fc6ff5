"""Which version a workspace's model store gives a model: read from the store's folders
(`<store>/<name>/<version>/` with its content hash), no Pulumi. The program declares models
with it, and the command validates an edited asset folder with the same versions."""

from __future__ import annotations

from pathlib import Path

from modelpack.assets import ModelAsset, next_version
from modelpack.assets.versions import AutoVersion, ModelVersions

from .model_version import HASH_FILE


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


def auto_versions(store: Path) -> ModelVersions:
    """For the asset loader: the version this store gives a model written without one."""

    def versions(asset: ModelAsset) -> AutoVersion:
        assigned = version_for(asset, store)
        known = {*registered_versions(store, asset.name), assigned}
        return AutoVersion(assigned, tuple(sorted(known)))

    return versions
