"""Render the build context folders of environment and package images.

Layer order in a package image is chosen for rebuild speed: the environment's dependencies
(their own image), then the injected server's dependencies, the server, the model (copy mode),
and the scoring code last, so that a score.py edit rebuilds one small layer (the image's
metadata instructions come before it, and its labels after it in one instruction).
"""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from spec import EnvironmentAsset, PackageAsset, hash_data, hash_tree

from .layout import ENV_DIR, SERVER_DIR, USER_ID, ContainerLayout

INFERENCE_SOURCE = Path(__file__).resolve().parent.parent / "inference"
DEFAULT_MLFLOW_BASE_IMAGE = "python:3.11-slim"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


@dataclass
class BuildContext:
    folder: Path
    labels: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)


@functools.cache
def server_version() -> str:
    """The injected server's identity: its version and a hash of its source (read once per
    program run, however many packages carry the server)."""
    import inference

    return f"{inference.__version__}+{hash_tree(INFERENCE_SOURCE)[:12]}"


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def mlflow_requirements(model_path: Path) -> list[str]:
    """An MLflow model's own pip requirements (MLflow writes requirements.txt beside MLmodel)."""
    requirements = model_path / "requirements.txt"
    if not requirements.is_file():
        return ["mlflow-skinny", "pandas", "scikit-learn"]
    lines = [line.strip() for line in requirements.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def render_environment_context(
    environment: EnvironmentAsset | None,
    folder: Path,
    *,
    mlflow_model: Path | None = None,
) -> BuildContext:
    """The environment image: base image + a virtualenv with the conda/pip dependencies.

    Without an environment (MLflow models) the dependencies come from the model itself.
    """
    _fresh(folder)
    if environment is not None:
        image = environment.image
        requirements = list(environment.requirements.requirements)
        pip_spec = environment.requirements.pip
    else:
        assert mlflow_model is not None, "an environment or an MLflow model is needed"
        image = DEFAULT_MLFLOW_BASE_IMAGE
        requirements = mlflow_requirements(mlflow_model)
        pip_spec = None
    (folder / "requirements.txt").write_text("".join(f"{line}\n" for line in requirements))
    pip_upgrade = f"pip=={pip_spec}" if pip_spec and pip_spec[0].isdigit() else None
    lines = [
        f"FROM {image}",
        f"RUN python3 -m venv {ENV_DIR}",
        f"ENV VIRTUAL_ENV={ENV_DIR} PATH={ENV_DIR}/bin:$PATH PYTHONDONTWRITEBYTECODE=1",
    ]
    if pip_upgrade:
        lines.append(f"RUN pip install --no-cache-dir '{pip_upgrade}'")
    lines += [
        f"COPY requirements.txt {ENV_DIR}/requirements.txt",
        f"RUN pip install --no-cache-dir -r {ENV_DIR}/requirements.txt",
    ]
    (folder / "Dockerfile").write_text("\n".join(lines) + "\n")
    spec_hash = hash_data({"image": image, "requirements": requirements, "pip": pip_upgrade})
    return BuildContext(
        folder,
        labels={"modelpack.environment.hash": spec_hash},
        hashes={"environment": spec_hash},
    )


def render_package_context(
    package: PackageAsset,
    base_image: str,
    model_version: str,
    layout: ContainerLayout,
    folder: Path,
    *,
    environment_hash: str,
) -> BuildContext:
    """The package image on top of `base_image` (the environment image, or for a custom
    server the user's own server image)."""
    _fresh(folder)
    model = package.model
    labels = {
        "modelpack.package.name": package.name,
        "modelpack.model.name": model.name,
        "modelpack.model.version": model_version,
        "modelpack.model.hash": model.content_hash,
        "modelpack.model.mode": package.mode,
        "modelpack.environment.hash": environment_hash,
        "modelpack.server.type": package.server_type,
    }
    hashes = {"model": model.content_hash, "environment": environment_hash}
    lines = [f"FROM {base_image}"]
    env = dict(package.environment_variables)

    if package.server_type == "azureml_online":
        version = server_version()
        labels["modelpack.server.version"] = version
        hashes["server"] = version
        shutil.copytree(INFERENCE_SOURCE, folder / "inference", ignore=_IGNORE)
        lines += [
            f"RUN useradd --uid {USER_ID} --no-create-home --shell /usr/sbin/nologin model || true",
            f"COPY inference/requirements.txt {SERVER_DIR}/requirements.txt",
            f"RUN pip install --no-cache-dir -r {SERVER_DIR}/requirements.txt",
            f"COPY inference {SERVER_DIR}/inference",
        ]
        env.update(
            {
                "PYTHONPATH": str(SERVER_DIR),
                "AZUREML_MODEL_DIR": str(layout.model_dir),
                "SERVER_PORT": str(layout.port),
            }
        )
        if layout.entry_script is not None:
            env["AZUREML_ENTRY_SCRIPT"] = str(layout.entry_script)

    if env:
        lines.append("ENV " + " ".join(f'{key}="{value}"' for key, value in sorted(env.items())))
    labels["modelpack.env.hash"] = hash_data(env)
    if package.server_type == "azureml_online":
        # Metadata only, and before the model and the code: every instruction after the code
        # is one more build step (a container commit) on each score.py edit.
        lines += [
            f"USER {USER_ID}",
            f"WORKDIR {layout.code_dir or SERVER_DIR}",
            f"EXPOSE {layout.port}",
            'CMD ["python", "-m", "inference"]',
        ]

    if package.mode == "copy":
        target = layout.model_dir / model.path.name
        copied = folder / "model" / model.path.name
        if model.path.is_dir():
            shutil.copytree(model.path, copied, ignore=_IGNORE)
        else:
            copied.parent.mkdir(parents=True)
            shutil.copy2(model.path, copied)
        lines.append(f"COPY model/{model.path.name} {target}")

    if package.code_dir is not None and layout.code_dir is not None:
        shutil.copytree(package.code_dir, folder / "code", ignore=_IGNORE)
        labels["modelpack.code.hash"] = package.code_hash
        hashes["code"] = package.code_hash
        lines.append(f"COPY code {layout.code_dir}")

    (folder / "Dockerfile").write_text("\n".join(lines) + "\n")
    return BuildContext(folder, labels=labels, hashes=hashes)
