"""The environment asset (``environment.yml``): a base image plus Python dependencies."""

from __future__ import annotations

import re
from typing import Self

from pydantic import model_validator

from .base import AssetModel, AssetName, Tags, Version, field_error

# A Docker image reference ([registry[:port]/]name[:tag][@digest]): it becomes a FROM line.
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")


class Environment(AssetModel):
    """A base image and, optionally, the dependencies installed on top of it.

    Dependencies come from at most one of:

    - `conda_file`: a conda environment file (Azure ML's field); its dependencies are
      installed with pip (see `spec.conda`).
    - `pip_requirements`: a pip requirements file. This field is our extension; Azure ML's
      CLI v2 environments have no equivalent (use `conda_file` there).

    Both paths are relative to the YAML file.
    """

    name: AssetName
    version: Version | None = None
    image: str
    conda_file: str | None = None
    pip_requirements: str | None = None
    description: str | None = None
    tags: Tags = {}

    @model_validator(mode="after")
    def _one_dependency_source(self) -> Self:
        if self.conda_file is not None and self.pip_requirements is not None:
            raise field_error(
                "pip_requirements", "give either conda_file or pip_requirements, not both"
            )
        if not _IMAGE.fullmatch(self.image):
            raise field_error(
                "image", f"must be an image name such as python:3.11-slim (got {self.image!r})"
            )
        return self


class InlineEnvironment(Environment):
    """An environment written inline in a deployment; its name defaults to
    ``<endpoint>-<deployment>-env``."""

    name: AssetName | None = None  # type: ignore[assignment]
