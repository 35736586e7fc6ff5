"""A workspace's image registry: Docker Distribution (Debian's `docker-registry`) serving one
folder on one loopback port, run as a detached process. No Pulumi, no Docker engine: the
stack's `Registry` resource (modelpack/providers/image_registry.py), the push and pull
resources and the `promote` verb all start, find and stop it through this package."""

from .process import (
    RegistryError,
    RegistrySpec,
    ensure_running,
    manifest_exists,
    probe,
    running_pids,
    stop,
)
from .references import DigestReference, parse_reference, repository_name

__all__ = [
    "DigestReference",
    "parse_reference",
    "repository_name",
    "RegistryError",
    "RegistrySpec",
    "ensure_running",
    "manifest_exists",
    "probe",
    "running_pids",
    "stop",
]
