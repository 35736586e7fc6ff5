"""Quantities of a deployment's `resources:` block (modelpack/assets/resources.py)."""

from __future__ import annotations

import pytest

from modelpack.assets.resources import ResourceSettings, parse_cpu, parse_memory_mb


@pytest.mark.parametrize(
    "given, cores", [("2", 2.0), (2, 2.0), ("0.5", 0.5), (0.25, 0.25), ("500m", 0.5)]
)
def test_cpu_in_cores_or_millicores(given: object, cores: float) -> None:
    assert parse_cpu(given) == cores


@pytest.mark.parametrize(
    "given, mib",
    [("512Mi", 512), ("1Gi", 1024), ("0.5Gi", 512), ("1G", 954), ("1073741824", 1024)],
)
def test_memory_in_kubernetes_quantities(given: str, mib: int) -> None:
    assert parse_memory_mb(given) == mib


@pytest.mark.parametrize("given", ["two", "-1", "0", "1.5 cores", "5x"])
def test_a_cpu_that_is_no_quantity_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="not a CPU quantity"):
        parse_cpu(given)


@pytest.mark.parametrize("given", ["1 GB", "lots", "1Pi", "1Mb"])
def test_a_memory_that_is_no_quantity_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="not a memory quantity"):
        parse_memory_mb(given)


def test_azure_mls_kubernetes_block_reads_as_written() -> None:
    settings = ResourceSettings.model_validate(
        {"requests": {"cpu": "0.1", "memory": "0.1Gi"}, "limits": {"cpu": "0.2", "memory": "200Mi"}}
    )
    assert (settings.requests.cpu, settings.requests.memory) == (0.1, 102)
    assert (settings.limits.cpu, settings.limits.memory) == (0.2, 200)
