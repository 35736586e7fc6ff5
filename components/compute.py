"""CPU and memory limits of an instance type on this host."""

from __future__ import annotations

import os
from dataclasses import dataclass

from modelpack.assets import InstanceType


@dataclass(frozen=True)
class Limits:
    cpus: float
    memory_mb: int
    clamped: bool


def host_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def host_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)


def limits_for(instance: InstanceType) -> Limits:
    """The instance type's vCPUs and memory, clamped to what this host has (a replica may
    not ask for more than the machine: Docker would refuse it)."""
    cpus = min(float(instance.vcpus), float(host_cpus()))
    memory_mb = min(int(instance.memory_gib * 1024), int(host_memory_mb() * 0.8))
    clamped = cpus < instance.vcpus or memory_mb < instance.memory_gib * 1024
    return Limits(cpus=cpus, memory_mb=memory_mb, clamped=clamped)
