"""Common Azure VM sizes usable by managed online deployments, with the resources a replica
gets when it runs locally (CPU and memory limits)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: float
    gpus: int = 0

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * 1024**3)


_TABLE: tuple[InstanceType, ...] = (
    # General purpose, Dv2/DSv2
    InstanceType("Standard_DS1_v2", 1, 3.5),
    InstanceType("Standard_DS2_v2", 2, 7),
    InstanceType("Standard_DS3_v2", 4, 14),
    InstanceType("Standard_DS4_v2", 8, 28),
    InstanceType("Standard_DS5_v2", 16, 56),
    InstanceType("Standard_D2_v2", 2, 7),
    InstanceType("Standard_D3_v2", 4, 14),
    InstanceType("Standard_D4_v2", 8, 28),
    # General purpose, Dsv3 / Dasv4 / Dav4
    InstanceType("Standard_D2s_v3", 2, 8),
    InstanceType("Standard_D4s_v3", 4, 16),
    InstanceType("Standard_D8s_v3", 8, 32),
    InstanceType("Standard_D16s_v3", 16, 64),
    InstanceType("Standard_D32s_v3", 32, 128),
    InstanceType("Standard_D2a_v4", 2, 8),
    InstanceType("Standard_D4a_v4", 4, 16),
    InstanceType("Standard_D8a_v4", 8, 32),
    InstanceType("Standard_D16a_v4", 16, 64),
    InstanceType("Standard_D2as_v4", 2, 8),
    InstanceType("Standard_D4as_v4", 4, 16),
    InstanceType("Standard_D8as_v4", 8, 32),
    InstanceType("Standard_D16as_v4", 16, 64),
    InstanceType("Standard_D32as_v4", 32, 128),
    # Compute optimised, Fsv2
    InstanceType("Standard_F2s_v2", 2, 4),
    InstanceType("Standard_F4s_v2", 4, 8),
    InstanceType("Standard_F8s_v2", 8, 16),
    InstanceType("Standard_F16s_v2", 16, 32),
    InstanceType("Standard_F32s_v2", 32, 64),
    InstanceType("Standard_F48s_v2", 48, 96),
    InstanceType("Standard_F64s_v2", 64, 128),
    InstanceType("Standard_F72s_v2", 72, 144),
    # Memory optimised, Esv3
    InstanceType("Standard_E2s_v3", 2, 16),
    InstanceType("Standard_E4s_v3", 4, 32),
    InstanceType("Standard_E8s_v3", 8, 64),
    InstanceType("Standard_E16s_v3", 16, 128),
    InstanceType("Standard_E32s_v3", 32, 256),
    InstanceType("Standard_E48s_v3", 48, 384),
    InstanceType("Standard_E64s_v3", 64, 432),
    # GPU
    InstanceType("Standard_NC4as_T4_v3", 4, 28, 1),
    InstanceType("Standard_NC8as_T4_v3", 8, 56, 1),
    InstanceType("Standard_NC16as_T4_v3", 16, 110, 1),
    InstanceType("Standard_NC64as_T4_v3", 64, 440, 4),
    InstanceType("Standard_NC6s_v3", 6, 112, 1),
    InstanceType("Standard_NC12s_v3", 12, 224, 2),
    InstanceType("Standard_NC24s_v3", 24, 448, 4),
    InstanceType("Standard_NC24ads_A100_v4", 24, 220, 1),
    InstanceType("Standard_NC48ads_A100_v4", 48, 440, 2),
    InstanceType("Standard_NC96ads_A100_v4", 96, 880, 4),
)

INSTANCE_TYPES: dict[str, InstanceType] = {t.name.lower(): t for t in _TABLE}
"""Known instance types, keyed by lower-cased name (Azure accepts any casing)."""


def lookup_instance_type(name: str) -> InstanceType | None:
    """The instance type called `name` (any casing), or None."""
    return INSTANCE_TYPES.get(name.strip().lower())


def unknown_instance_type_message(name: str) -> str:
    names = [t.name for t in _TABLE]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.75)
    if close:
        return (
            f"unknown instance type {name!r} (did you mean {' or '.join(close)}? "
            f"{len(names)} known types are listed in modelpack/assets/instance_types.py)"
        )
    return f"unknown instance type {name!r}; known types: {', '.join(names)}"
