"""`logs`: the last lines a deployment's replica container wrote (stdout and stderr)."""

from __future__ import annotations

from dataclasses import dataclass

from modelpack.targets.base import Runtime

from .errors import CliError
from .outputs import StackOutputs

DEFAULT_LINES = 100


@dataclass(frozen=True)
class ReplicaLogs:
    container: str
    instance: int
    lines: list[str]
    others: list[str]
    """The deployment's other replicas, for a hint."""


def pick_replica(replicas: list[str], instance: str | None) -> tuple[int, str]:
    """(index, container name) of `instance`: a replica index, a container name or None (0)."""
    if not replicas:
        raise CliError("the deployment has no replicas", "check instance_count, then run `up`")
    if instance is None:
        return 0, replicas[0]
    if instance in replicas:
        return replicas.index(instance), instance
    if instance.isdigit() and int(instance) < len(replicas):
        return int(instance), replicas[int(instance)]
    choices = ", ".join(f"{i} ({name})" for i, name in enumerate(replicas))
    raise CliError(
        f"no instance {instance!r}: the deployment runs {choices}",
        "pass one of those indexes or names to --instance",
    )


def replica_logs(
    outputs: StackOutputs,
    runtime: Runtime,
    endpoint: str,
    deployment: str,
    instance: str | None = None,
    lines: int = DEFAULT_LINES,
) -> ReplicaLogs:
    replicas = outputs.endpoint(endpoint).deployment(deployment, outputs.workspace)
    index, name = pick_replica(replicas, instance)
    text = runtime.logs(name, lines)
    if text is None:
        raise CliError(
            f"replica container {name} of {endpoint}/{deployment} does not exist",
            f"run `modelpack up --workspace {outputs.workspace}` to recreate it",
        )
    return ReplicaLogs(
        container=name,
        instance=index,
        lines=text.splitlines()[-lines:] if lines else [],
        others=[other for other in replicas if other != name],
    )
