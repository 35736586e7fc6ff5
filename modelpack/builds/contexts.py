"""Render the build context folders of environment and package images.

Layer order in a package image is chosen for rebuild speed: the environment's dependencies
(their own image), then the injected server's dependencies, the server, the model (copy mode),
and the scoring code last, so that a score.py edit rebuilds one small layer (the image's
metadata instructions come before it, and its labels after it in one instruction).

Each context is a folder named by a hash of its content under the folder the caller gives
(see `builds.folders`): rendering never changes a folder a running build reads.
"""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from modelpack import names
from modelpack.assets import EnvironmentAsset, PackageAsset, hash_data, hash_tree
from modelpack.assets.conda import pip_requirement
from modelpack.assets.mlflow_env import MlflowEnvironment

from . import server
from .dockerfile import env_instructions, exec_form
from .folders import publish
from .layout import ENV_DIR, SERVER_DIR, USER_ID, ContainerLayout
from .pip_failures import requirement_sources, write_sources

INFERENCE_SOURCE = server.INFERENCE_SOURCE
DEFAULT_MLFLOW_BASE_IMAGE = "python:3.11-slim"
PYTHON = ENV_DIR / "bin" / "python"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


@dataclass
class BuildContext:
    folder: Path
    labels: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    build_args: dict[str, str] = field(default_factory=dict)
    """Values the Dockerfile's ``ARG``s take: environment values, never written into it."""


@functools.cache
def server_version() -> str:
    """The injected server's identity: its version and a hash of its source (read once per
    program run, however many packages carry the server)."""
    from modelpack import inference_server as inference

    return f"{inference.__version__}+{hash_tree(INFERENCE_SOURCE)[:12]}"


@functools.cache
def _renderer_version() -> str:
    """A hash of this package's source: a folder rendered by other code is another folder
    (a context's name must say everything that decided its content)."""
    return hash_tree(Path(__file__).resolve().parent)


def _pip_install(*args: str) -> str:
    return "RUN " + exec_form([str(PYTHON), "-m", "pip", "install", "--no-cache-dir", *args])


def render_environment_context(
    environment: EnvironmentAsset | None,
    parent: Path,
    *,
    mlflow: MlflowEnvironment | None = None,
) -> BuildContext:
    """The environment image: base image + a virtualenv with the conda/pip dependencies, in a
    content-named folder under `parent`.

    Without an environment (MLflow models) the dependencies come from the model itself.
    """
    if environment is not None:
        image = environment.image
        wanted = environment.requirements
        source = environment.conda_file or environment.pip_requirements_file or environment.file
    else:
        assert mlflow is not None, "an environment or an MLflow model is needed"
        image = DEFAULT_MLFLOW_BASE_IMAGE
        wanted = mlflow.requirements
        source = mlflow.source or mlflow.mlmodel
    requirements = list(wanted.requirements)
    pip_spec = wanted.pip
    requirements_text = "".join(f"{line}\n" for line in requirements)
    # The spec layer checked the version (spec.conda.check_pip_version).
    pip_upgrade = pip_requirement(pip_spec) if pip_spec else None
    lines = [
        f"FROM {image}",
        "RUN " + exec_form(["python3", "-m", "venv", str(ENV_DIR)]),
        f"ENV VIRTUAL_ENV={ENV_DIR} PATH={ENV_DIR}/bin:$PATH PYTHONDONTWRITEBYTECODE=1",
    ]
    if pip_upgrade:
        lines.append(_pip_install(pip_upgrade))
    lines += [
        f"COPY requirements.txt {ENV_DIR}/requirements.txt",
        _pip_install("-r", f"{ENV_DIR}/requirements.txt"),
    ]
    dockerfile = "\n".join(lines) + "\n"

    sources = requirement_sources([*requirements, *([pip_upgrade] if pip_upgrade else [])], source)

    def fill(folder: Path) -> None:
        (folder / "requirements.txt").write_text(requirements_text)
        (folder / "Dockerfile").write_text(dockerfile)
        write_sources(folder, sources)

    key = hash_data(
        {
            "dockerfile": dockerfile,
            "requirements": requirements_text,
            "sources": sources,
            "renderer": _renderer_version(),
        }
    )
    folder = publish(parent, key[:16], fill)
    spec_hash = hash_data({"image": image, "requirements": requirements, "pip": pip_upgrade})
    return BuildContext(
        folder,
        labels={names.IMAGE_ENVIRONMENT_HASH: spec_hash},
        hashes={"environment": spec_hash},
    )


def render_package_context(
    package: PackageAsset,
    base_image: str,
    model_version: str,
    layout: ContainerLayout,
    parent: Path,
    *,
    environment_hash: str,
) -> BuildContext:
    """The package image on top of `base_image` (the environment image, or for a custom
    server the user's own server image), in a content-named folder under `parent`."""
    model = package.model
    labels = {
        names.IMAGE_PACKAGE_NAME: package.name,
        names.IMAGE_MODEL_NAME: model.name,
        names.IMAGE_MODEL_VERSION: model_version,
        names.IMAGE_MODEL_HASH: model.content_hash,
        names.IMAGE_MODEL_MODE: package.mode,
        names.IMAGE_ENVIRONMENT_HASH: environment_hash,
        names.IMAGE_SERVER_TYPE: package.server_type,
    }
    hashes = {"model": model.content_hash, "environment": environment_hash}
    lines = [f"FROM {base_image}"]
    env = dict(package.environment_variables)
    fills = []

    if package.server_type == "azureml_online":
        version = server_version()
        labels[names.IMAGE_SERVER_VERSION] = version
        hashes["server"] = version
        fills.append(server.server_files)
        lines += [
            f"RUN useradd --uid {USER_ID} --no-create-home --shell /usr/sbin/nologin model || true",
            *server.dockerfile_lines(PYTHON),
        ]
        env.update({"AZUREML_MODEL_DIR": str(layout.model_dir), "SERVER_PORT": str(layout.port)})
        if layout.entry_script is not None:
            env["AZUREML_ENTRY_SCRIPT"] = str(layout.entry_script)

    env_lines, build_args = env_instructions(env)
    lines += env_lines
    labels[names.IMAGE_ENV_HASH] = hash_data(env)
    if package.server_type == "azureml_online":
        # Metadata only, and before the model and the code: every instruction after the code
        # is one more build step (a container commit) on each score.py edit.
        lines += [
            f"USER {USER_ID}",
            f"WORKDIR {layout.code_dir or SERVER_DIR}",
            f"EXPOSE {layout.port}",
            server.command(PYTHON),
        ]

    if package.mode == "copy":

        def copy_model(folder: Path) -> None:
            copied = folder / "model" / model.path.name
            if model.path.is_dir():
                shutil.copytree(model.path, copied, symlinks=True, ignore=_IGNORE)
            else:
                copied.parent.mkdir(parents=True)
                shutil.copy2(model.path, copied)

        fills.append(copy_model)
        # The folder's content (the model under its own name) into the model folder.
        lines.append(f"COPY model {layout.model_dir}")

    if package.code_dir is not None and layout.code_dir is not None:
        code_dir = package.code_dir
        fills.append(
            lambda folder: shutil.copytree(code_dir, folder / "code", symlinks=True, ignore=_IGNORE)
        )
        labels[names.IMAGE_CODE_HASH] = package.code_hash
        hashes["code"] = package.code_hash
        lines.append(f"COPY code {layout.code_dir}")

    dockerfile = "\n".join(lines) + "\n"

    def fill(folder: Path) -> None:
        for write in fills:
            write(folder)
        (folder / "Dockerfile").write_text(dockerfile)

    key = hash_data(
        {
            "dockerfile": dockerfile,
            "files": hashes,  # model, code and server (its source) by content
            "model_copied": package.mode == "copy",
            "renderer": _renderer_version(),
        }
    )
    folder = publish(parent, key[:16], fill)
    return BuildContext(folder, labels=labels, hashes=hashes, build_args=build_args)
