"""The Docker engine as the verbs see it: a stack's containers, found by their labels."""

from __future__ import annotations

from dataclasses import dataclass

import docker
import docker.errors
from docker.models.containers import Container

from .errors import CliError


def engine() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except docker.errors.DockerException as error:
        raise CliError(
            f"the Docker engine does not answer: {error}",
            "run `make setup` (it starts dockerd), or check DOCKER_HOST",
        ) from None
    return client


def labelled(client: docker.DockerClient, **labels: str) -> list[Container]:
    """Every container (running or not) carrying all of `labels` (`modelpack.` is prefixed)."""
    filters = [f"modelpack.{key}={value}" for key, value in labels.items()]
    return client.containers.list(all=True, filters={"label": filters})


def by_name(client: docker.DockerClient, name: str) -> Container | None:
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


@dataclass(frozen=True)
class ContainerState:
    name: str
    state: str
    """running, restarting, exited (code n), ... or `missing`."""
    restarts: int = 0
    replica: str = ""

    @classmethod
    def of(cls, container: Container | None, name: str) -> ContainerState:
        if container is None:
            return cls(name=name, state="missing")
        attrs = container.attrs
        status = attrs.get("State", {})
        state = str(status.get("Status", container.status))
        if state == "exited":
            state = f"exited (code {status.get('ExitCode')})"
        return cls(
            name=container.name or name,
            state=state,
            restarts=int(attrs.get("RestartCount", 0)),
            replica=container.labels.get("modelpack.replica", ""),
        )
