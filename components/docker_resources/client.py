"""The Docker engine client shared by the providers."""

from __future__ import annotations

import functools

import docker


@functools.cache
def engine() -> docker.DockerClient:
    """A client for the local engine (DOCKER_HOST or the default socket)."""
    return docker.from_env(timeout=300)


def replace_on_change(olds: dict, news: dict, keys: list[str]) -> list[str]:
    """The input keys whose values differ between the previous and the new inputs."""
    return [key for key in keys if olds.get(key) != news.get(key)]
