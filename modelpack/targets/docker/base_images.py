"""Facts about base images that checks need before anything is built."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import docker.errors

from ..base import BaseImageError
from .client import engine


def _known_versions_file() -> Path:
    cache = os.environ.get("MODELPACK_CACHE") or Path.home() / ".cache" / "modelpack"
    return Path(cache) / "python-versions.json"


def _known_versions() -> dict[str, str]:
    try:
        return json.loads(_known_versions_file().read_text())
    except (OSError, ValueError):
        return {}


def _remember_version(image_id: str, version: str) -> None:
    path = _known_versions_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f"{path.name}.{os.getpid()}")
        scratch.write_text(json.dumps({**_known_versions(), image_id: version}, indent=1))
        os.replace(scratch, path)
    except OSError:
        pass  # only a cache


@functools.cache
def python_version(image: str) -> str:
    """The Python version inside `image` (e.g. ``3.11.2``), read by running it once per image
    id; remembered across runs (an id names one content), which saves every `pulumi preview`
    and `up` a container start."""
    try:
        image_id = engine().api.inspect_image(image)["Id"]
    except docker.errors.ImageNotFound:
        raise BaseImageError(
            f"base image {image!r} is not in the local Docker engine and no registry can be "
            f"reached: build it with `scripts/base-image.sh {image}` or `docker load` it"
        ) from None
    known = _known_versions().get(image_id)
    if known:
        return known
    try:
        output = engine().containers.run(
            image_id,
            ["python3", "-c", "import platform; print(platform.python_version())"],
            entrypoint=[],
            remove=True,
            network_disabled=True,
        )
    except docker.errors.ContainerError as error:
        raise BaseImageError(f"base image {image!r} has no working python3: {error}") from None
    version = output.decode().strip()
    _remember_version(image_id, version)
    return version
