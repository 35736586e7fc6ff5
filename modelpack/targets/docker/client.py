"""The Docker engine client shared by the providers."""

from __future__ import annotations

import functools

import docker
import docker.errors


@functools.cache
def engine() -> docker.DockerClient:
    """A client for the local engine (DOCKER_HOST or the default socket)."""
    return docker.from_env(timeout=300)


def untag(reference: str, image_id: str, *, prune: bool) -> None:
    """Remove the tag `reference` if it still names `image_id` (a newer build may have taken
    it); an image still in use, or already gone, is left as it is."""
    api = engine().api
    try:
        if api.inspect_image(reference)["Id"] == image_id:
            api.remove_image(reference, noprune=not prune)
    except (docker.errors.ImageNotFound, docker.errors.APIError):
        pass
