"""Telling which kind of asset a YAML document is: by its ``$schema`` URL, or, without one,
by the top-level keys only that kind has."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from .deployment import ManagedOnlineDeployment
from .endpoint import OnlineEndpoint
from .environment import Environment
from .model import Model
from .package import ModelPackage


class AssetKind(StrEnum):
    MODEL = "model"
    ENVIRONMENT = "environment"
    PACKAGE = "package"
    ENDPOINT = "endpoint"
    DEPLOYMENT = "deployment"


ASSET_MODELS: dict[AssetKind, type[BaseModel]] = {
    AssetKind.MODEL: Model,
    AssetKind.ENVIRONMENT: Environment,
    AssetKind.PACKAGE: ModelPackage,
    AssetKind.ENDPOINT: OnlineEndpoint,
    AssetKind.DEPLOYMENT: ManagedOnlineDeployment,
}

# Last path segment of the $schema URL, lower-cased, without ".schema.json" / ".json".
SCHEMA_NAMES: dict[str, AssetKind] = {
    "model": AssetKind.MODEL,
    "environment": AssetKind.ENVIRONMENT,
    "modelversionpackage": AssetKind.PACKAGE,
    "modelpackage": AssetKind.PACKAGE,
    "managedonlineendpoint": AssetKind.ENDPOINT,
    "managedonlinedeployment": AssetKind.DEPLOYMENT,
}

# Keys that only one kind has, checked in this order (a deployment may carry an inline
# environment's keys only below `environment:`, so top-level keys do not collide).
DISTINGUISHING_KEYS: tuple[tuple[AssetKind, frozenset[str]], ...] = (
    (
        AssetKind.PACKAGE,
        frozenset(
            {
                "target_environment_name",
                "target_environment",
                "base_environment_source",
                "inferencing_server",
                "model_configuration",
            }
        ),
    ),
    (
        AssetKind.DEPLOYMENT,
        frozenset(
            {
                "endpoint_name",
                "instance_type",
                "instance_count",
                "request_settings",
                "liveness_probe",
                "readiness_probe",
                "package_model",
                "code_configuration",
            }
        ),
    ),
    (AssetKind.ENDPOINT, frozenset({"auth_mode", "traffic", "mirror_traffic"})),
    (AssetKind.ENVIRONMENT, frozenset({"image", "conda_file", "pip_requirements", "build"})),
    (AssetKind.MODEL, frozenset({"path"})),
)

CONDA_KEYS = frozenset({"dependencies", "channels"})


class UnknownSchema(ValueError):
    """A ``$schema`` naming a kind of asset this project does not handle."""


def kind_from_schema(url: str) -> AssetKind:
    """The kind a ``$schema`` URL names; raises UnknownSchema for other schemas."""
    last = url.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    name = re.sub(r"(\.schema)?\.json$", "", last)
    if name in SCHEMA_NAMES:
        return SCHEMA_NAMES[name]
    known = (
        "managedOnlineDeployment, managedOnlineEndpoint, model, environment, ModelVersionPackage"
    )
    raise UnknownSchema(f"unsupported asset schema {url!r} (supported: {known})")


def is_conda_file(data: Any) -> bool:
    """A conda environment file (a mapping with ``dependencies`` and no ``$schema``)."""
    return isinstance(data, Mapping) and "$schema" not in data and "dependencies" in data


def detect_kind(data: Any) -> AssetKind | None:
    """The kind of asset `data` (a parsed YAML document) is, or None when it is not an asset
    (not a mapping, a conda file, or no key that any asset kind is known by).

    Raises UnknownSchema when ``$schema`` names an unsupported kind.
    """
    if not isinstance(data, Mapping):
        return None
    schema = data.get("$schema")
    if isinstance(schema, str):
        return kind_from_schema(schema)
    if is_conda_file(data):
        return None
    keys = set(data)
    for kind, distinguishing in DISTINGUISHING_KEYS:
        if keys & distinguishing:
            return kind
    return None
