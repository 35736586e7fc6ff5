"""A deployment's CPU and memory on this host (components/compute.py)."""

from __future__ import annotations

from components.compute import host_cpus, host_memory_mb, limits_for
from modelpack.assets import lookup_instance_type
from modelpack.assets.resources import ResourceSettings

F2S = lookup_instance_type("Standard_F2s_v2")  # 2 vCPUs, 4 GiB


def test_the_instance_type_gives_the_limits_and_no_requests() -> None:
    limits = limits_for(F2S)
    assert limits.cpus == min(2.0, host_cpus())
    assert limits.memory_mb == min(4096, int(host_memory_mb() * 0.8))
    assert (limits.cpu_request, limits.memory_request_mb) == (None, None)


def test_resources_replace_the_instance_types_limits_and_add_requests() -> None:
    resources = ResourceSettings.model_validate(
        {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    )
    limits = limits_for(F2S, resources)
    assert (limits.cpus, limits.memory_mb, limits.clamped) == (1.0, 1024, False)
    assert (limits.cpu_request, limits.memory_request_mb) == (0.25, 256)


def test_a_limit_above_the_host_is_clamped_and_said() -> None:
    resources = ResourceSettings.model_validate({"limits": {"cpu": str(host_cpus() + 8)}})
    limits = limits_for(F2S, resources)
    assert limits.cpus == host_cpus() and limits.clamped
    assert limits.memory_mb == min(4096, int(host_memory_mb() * 0.8))
