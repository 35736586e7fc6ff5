"""Facts about base images that checks need before anything is built."""

from __future__ import annotations

import functools

import docker.errors

from .docker_resources.client import engine


class BaseImageError(Exception):
    pass


@functools.cache
def python_version(image: str) -> str:
    """The Python version inside `image` (e.g. ``3.11.2``), read by running it once."""
    try:
        output = engine().containers.run(
            image,
            ["python3", "-c", "import platform; print(platform.python_version())"],
            entrypoint=[],
            remove=True,
            network_disabled=True,
        )
    except docker.errors.ImageNotFound:
        raise BaseImageError(
            f"base image {image!r} is not in the local Docker engine and no registry can be "
            "reached: build it with `scripts/base-image.sh {image}` or `docker load` it"
        ) from None
    except docker.errors.ContainerError as error:
        raise BaseImageError(f"base image {image!r} has no working python3: {error}") from None
    return output.decode().strip()


def python_matches(wanted: str, actual: str) -> bool:
    """Does a conda `python=` spec (``3.11``, ``3.11.2``, ``>=3.9``) accept `actual`?"""
    wanted = wanted.strip()
    if wanted[0].isdigit():
        return actual == wanted or actual.startswith(wanted.rstrip(".*") + ".")
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return actual in SpecifierSet(wanted)
    except InvalidSpecifier:
        return False
