"""Telling asset kinds apart."""

from __future__ import annotations

import pytest

from modelpack.assets import AssetKind, detect_kind
from modelpack.assets.kinds import UnknownSchema

SCHEMAS = "https://azuremlschemas.azureedge.net/latest/"


@pytest.mark.parametrize(
    "data, kind",
    [
        ({"$schema": SCHEMAS + "managedOnlineDeployment.schema.json"}, AssetKind.DEPLOYMENT),
        ({"$schema": SCHEMAS + "managedOnlineEndpoint.schema.json"}, AssetKind.ENDPOINT),
        ({"$schema": SCHEMAS + "model.schema.json"}, AssetKind.MODEL),
        ({"$schema": SCHEMAS + "environment.schema.json"}, AssetKind.ENVIRONMENT),
        ({"$schema": "http://azureml/sdk-2-0/ModelVersionPackage.json"}, AssetKind.PACKAGE),
        ({"target_environment_name": "p", "inferencing_server": {}}, AssetKind.PACKAGE),
        ({"name": "blue", "endpoint_name": "e"}, AssetKind.DEPLOYMENT),
        ({"name": "e", "auth_mode": "key"}, AssetKind.ENDPOINT),
        ({"name": "e", "traffic": {"blue": 100}}, AssetKind.ENDPOINT),
        ({"name": "env", "image": "python:3.11-slim"}, AssetKind.ENVIRONMENT),
        ({"name": "env", "conda_file": "conda.yaml"}, AssetKind.ENVIRONMENT),
        ({"name": "m", "path": "model", "type": "custom_model"}, AssetKind.MODEL),
        ({"name": "env", "channels": [], "dependencies": []}, None),
        ({"name": "project", "runtime": "python"}, None),
        (["a", "list"], None),
        (None, None),
    ],
)
def test_detect_kind(data: object, kind: AssetKind | None) -> None:
    assert detect_kind(data) == kind


def test_unsupported_schema_is_an_error() -> None:
    with pytest.raises(UnknownSchema, match="commandJob"):
        detect_kind({"$schema": SCHEMAS + "commandJob.schema.json"})
