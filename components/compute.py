"""CPU and memory of a deployment's replicas on this host: the instance type's, or the
deployment's own `resources:`."""

from __future__ import annotations

import os
from dataclasses import dataclass

from modelpack.assets import InstanceType
from modelpack.assets.resources import ResourceSettings


@dataclass(frozen=True)
class Limits:
    cpus: float
    memory_mb: int
    clamped: bool
    cpu_request: float | None = None
    """Cores a replica is scheduled by, where the target schedules (None: its default)."""
    memory_request_mb: int | None = None


def host_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def host_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)


def limits_for(instance: InstanceType, resources: ResourceSettings | None = None) -> Limits:
    """The instance type's vCPUs and memory, or the limits of `resources:` where given,
    clamped to what this host has (a replica may not ask for more than the machine: Docker
    would refuse it)."""
    given = resources.limits if resources else None
    wanted_cpus = given.cpu if given and given.cpu else float(instance.vcpus)
    wanted_mb = given.memory if given and given.memory else int(instance.memory_gib * 1024)
    cpus = min(wanted_cpus, float(host_cpus()))
    memory_mb = min(wanted_mb, int(host_memory_mb() * 0.8))
    requests = resources.requests if resources else None
    return Limits(
        cpus=cpus,
        memory_mb=memory_mb,
        clamped=cpus < wanted_cpus or memory_mb < wanted_mb,
        cpu_request=min(requests.cpu, cpus) if requests and requests.cpu else None,
        memory_request_mb=(
            min(requests.memory, memory_mb) if requests and requests.memory else None
        ),
    )
