"""Checks made before anything is declared that need a base image's Python (issue 16 item
5): an MLflow model's Python is compared with the image MLflow models are built on."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.environment import check_mlflow_python, python_matches
from modelpack.assets import PipRequirements, SpecError
from modelpack.assets.mlflow_env import MlflowEnvironment


class Python311:
    def python_version(self, image: str) -> str:
        return "3.11.2"


def environment(python: str) -> MlflowEnvironment:
    return MlflowEnvironment(
        Path("ws/model/MLmodel"), Path("ws/model/conda.yaml"), PipRequirements(python=python)
    )


def test_mlflow_python_at_another_patch_level_is_accepted() -> None:
    check_mlflow_python(environment("3.11.7"), Python311())
    assert not python_matches("3.11.7", "3.11.2")
    assert python_matches("3.11.7", "3.11.2", minor_only=True)


def test_mlflow_python_the_base_image_does_not_have() -> None:
    with pytest.raises(SpecError) as caught:
        check_mlflow_python(environment("3.12"), Python311())
    assert str(caught.value) == (
        "ws/model/MLmodel: flavors.python_function.env: ws/model/conda.yaml asks for Python "
        "3.12, but MLflow models are built on 'python:3.11-slim', which has Python 3.11.2; "
        "change it to 3.11 there"
    )
