"""Environment: a base image plus the conda file's dependencies, installed with pip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pulumi

from modelpack import names
from modelpack.assets import AssetFolder, AssetFolderError, EnvironmentAsset, SpecError
from modelpack.assets.mlflow_env import ENV_FIELD, MlflowEnvironment
from modelpack.builds import render_environment_context
from modelpack.builds.contexts import DEFAULT_MLFLOW_BASE_IMAGE
from modelpack.targets import Target
from modelpack.targets.base import BaseImageError, ImageBuild


@dataclass
class EnvironmentArgs:
    asset: EnvironmentAsset | None
    """None for an MLflow model's own environment (then `mlflow` is what its MLmodel names)."""
    build_dir: Path
    image_prefix: str
    target: Target
    mlflow: MlflowEnvironment | None = None


def python_matches(wanted: str, actual: str, *, minor_only: bool = False) -> bool:
    """Does a conda `python=` spec (``3.11``, ``3.11.2``, ``>=3.9``) accept `actual`?
    `minor_only`: ``3.11.7`` accepts any 3.11 (wheels depend on the minor version only)."""
    wanted = wanted.strip()
    if minor_only and re.fullmatch(r"\d+\.\d+\.\d+", wanted):
        wanted = wanted.rsplit(".", 1)[0]
    if wanted[0].isdigit():
        return actual == wanted or actual.startswith(wanted.rstrip(".*") + ".")
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return actual in SpecifierSet(wanted)
    except InvalidSpecifier:
        return False


def check_python(asset: EnvironmentAsset, target: Target) -> None:
    """The conda file's `python=` must be the base image's Python: pip cannot change it."""
    wanted = asset.requirements.python
    if not wanted:
        return
    try:
        actual = target.python_version(asset.image)
    except BaseImageError as error:
        raise SpecError(asset.file, "image", str(error)) from None
    if not python_matches(wanted, actual):
        raise SpecError(
            asset.conda_file or asset.file,
            "dependencies",
            f"python={wanted} does not match the base image {asset.image!r}, which has "
            f"Python {actual}; change python= to {'.'.join(actual.split('.')[:2])} or use a "
            "base image with that Python",
        )


def check_mlflow_python(environment: MlflowEnvironment, target: Target) -> None:
    """An MLflow model's Python (MLflow writes the training interpreter's, patch level
    included) must be the base image's minor version: pip cannot change it."""
    wanted = environment.requirements.python
    if not wanted:
        return
    image = DEFAULT_MLFLOW_BASE_IMAGE
    try:
        actual = target.python_version(image)
    except BaseImageError as error:
        raise SpecError(environment.mlmodel, "", str(error)) from None
    if not python_matches(wanted, actual, minor_only=True):
        raise SpecError(
            environment.mlmodel,
            ENV_FIELD,
            f"{environment.source} asks for Python {wanted}, but MLflow models are built on "
            f"{image!r}, which has Python {actual}; change it to "
            f"{'.'.join(actual.split('.')[:2])} there",
        )


def check_environments(assets: AssetFolder, target: Target, skip: set[str] | None = None) -> None:
    """The checks that need the base images, for every environment a package is built on
    (packages named in `skip`, promoted ones, are not built here).
    Run before any resource is declared: a failing check then creates nothing (a check inside
    `Environment` comes after the package's model version was already declared)."""
    errors: list[SpecError] = []
    checked: set[int] = set()
    for package in assets.packages:
        asset = package.base_environment
        mlflow = package.model.mlflow_environment if asset is None else None
        if package.name in (skip or set()) or package.server_type == "custom":
            continue
        if (asset is None and mlflow is None) or id(asset or mlflow) in checked:
            continue
        checked.add(id(asset or mlflow))
        try:
            if asset is not None:
                check_python(asset, target)
            elif mlflow is not None:
                check_mlflow_python(mlflow, target)
        except SpecError as error:
            errors.append(error)
    if errors:
        raise AssetFolderError(assets.folder, errors)


class Environment(pulumi.ComponentResource):
    image: pulumi.Output[str]
    """The environment image's id (sha256:...)."""
    content_hash: pulumi.Output[str]

    def __init__(
        self, resource_name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(names.ENVIRONMENT, resource_name, None, opts)
        if args.asset is not None:
            check_python(args.asset, args.target)
        context = render_environment_context(args.asset, args.build_dir, mlflow=args.mlflow)
        content_hash = context.hashes["environment"]
        image = args.target.image(
            f"{resource_name}-image",
            ImageBuild(
                tag=f"{args.image_prefix}:{content_hash[:12]}",
                context=str(context.folder),
                labels=context.labels,
                hashes=context.hashes,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.image = image.image_id
        self.content_hash = pulumi.Output.from_input(content_hash)
        self.register_outputs({"image": self.image, "content_hash": self.content_hash})
