"""Model: registered model content, identified by a hash of its files.

The workspace's model store (`<store>/<name>/<version>/<file or folder>`) is the registry:
deployments of `readonly_mount` packages mount a version folder read-only. Without a version in
model.yml, the version is the store's version with the same content hash, or one more than the
latest, as registering a new model version does in Azure ML. The version is decided when the
program runs, so `pulumi preview` already shows which version an `up` will register.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from modelpack import names
from modelpack.assets import ModelAsset
from modelpack.providers.model_store import version_for
from modelpack.providers.model_version import ModelVersion, ModelVersionArgs


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
            ModelVersionArgs(
                name=asset.name,
                version=self.version,
                content_hash=asset.content_hash,
                source=str(asset.path),
                path=str(path),
                type=asset.type,
            ),
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
