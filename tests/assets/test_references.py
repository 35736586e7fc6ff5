"""Parsing azureml: references."""

from __future__ import annotations

import pytest

from modelpack.assets import parse_reference


@pytest.mark.parametrize(
    "text, name, version, kind",
    [
        ("azureml:sklearn-regression-env@latest", "sklearn-regression-env", None, None),
        ("azureml:sklearn-regression:3", "sklearn-regression", "3", None),
        ("azureml:env.v2:1.0.1", "env.v2", "1.0.1", None),
        (
            "azureml://subscriptions/s/resourceGroups/g/workspaces/w/environments/env/versions/4",
            "env",
            "4",
            "environment",
        ),
        (
            "azureml://locations/westeurope/workspaces/w/models/m/versions/2",
            "m",
            "2",
            "model",
        ),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
            "sklearn-1.5",
            None,
            "environment",
        ),
        (
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices"
            "/workspaces/w/environments/env/versions/7",
            "env",
            "7",
            "environment",
        ),
        ("azureml://registries/r/models/m", "m", None, "model"),
    ],
)
def test_reference_forms(text: str, name: str, version: str | None, kind: str | None) -> None:
    reference = parse_reference(text)
    assert (reference.name, reference.version, reference.kind) == (name, version, kind)
    assert reference.is_latest is (version is None)


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("sklearn-regression-env", "must be azureml:<name>:<version>"),
        ("azureml:env", "give a version or @latest"),
        ("azureml:env@stable", "only the label @latest"),
        ("azureml://registries/r/components/c/versions/1", "must end in models/<name>"),
    ],
)
def test_malformed_references(text: str, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase.replace("@", "@").replace("<", "<")):
        parse_reference(text)
