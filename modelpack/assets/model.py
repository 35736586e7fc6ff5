"""The model asset (``model.yml``), as ``az ml model create -f`` reads it."""

from __future__ import annotations

from typing import Literal

from .base import AssetModel, AssetName, Tags, Version

ModelType = Literal["custom_model", "mlflow_model"]


class Model(AssetModel):
    """A registered model: a file or folder (`path`, relative to the YAML file).

    Without `version`, the version is assigned when the model is registered and grows by one
    whenever the content changes (see `spec.versions.next_version`).
    """

    name: AssetName
    version: Version | None = None
    path: str
    type: ModelType = "custom_model"
    description: str | None = None
    tags: Tags = {}


class InlineModel(Model):
    """A model written inline in a deployment (``model: {path: model}``); its name defaults to
    ``<endpoint>-<deployment>-model``."""

    name: AssetName | None = None  # type: ignore[assignment]
