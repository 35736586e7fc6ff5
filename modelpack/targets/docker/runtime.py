"""The Docker engine as the `modelpack` command reads it: a stack's containers, found by name
or by their labels."""

from __future__ import annotations

import docker
import docker.errors
from docker.models.containers import Container

from modelpack import names

from ..base import TargetUnavailable, WorkloadState


def _state(container: Container | None, name: str) -> WorkloadState:
    if container is None:
        return WorkloadState(name=name, state="missing")
    attrs = container.attrs
    status = attrs.get("State", {})
    state = str(status.get("Status", container.status))
    if state == "exited":
        state = f"exited (code {status.get('ExitCode')})"
    return WorkloadState(
        name=container.name or name,
        state=state,
        restarts=int(attrs.get("RestartCount", 0)),
        replica=container.labels.get(names.LABEL_REPLICA, ""),
    )


class DockerRuntime:
    def __init__(self) -> None:
        try:
            self.client = docker.from_env(timeout=60)
            self.client.ping()
        except docker.errors.DockerException as error:
            raise TargetUnavailable(
                f"the Docker engine does not answer: {error}; run `make setup` (it starts "
                "dockerd), or check DOCKER_HOST"
            ) from None

    def _get(self, name: str) -> Container | None:
        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def state(self, name: str) -> WorkloadState:
        return _state(self._get(name), name)

    def labelled(self, stack: str, endpoint: str, role: str) -> list[WorkloadState]:
        filters = [
            f"{names.LABEL_STACK}={stack}",
            f"{names.LABEL_ENDPOINT}={endpoint}",
            f"{names.LABEL_ROLE}={role}",
        ]
        found = self.client.containers.list(all=True, filters={"label": filters})
        return [_state(container, container.name or "") for container in found]

    def logs(self, name: str, lines: int) -> str | None:
        container = self._get(name)
        if container is None:
            return None
        raw = container.logs(stdout=True, stderr=True, tail=max(lines, 0))
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
