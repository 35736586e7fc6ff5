"""A deployment's `resources:` block, as Azure ML's Kubernetes online deployments write it:

    resources:
      requests: {cpu: "0.5", memory: 1Gi}
      limits: {cpu: "1", memory: 2Gi}

CPU in cores or millicores (`0.5`, `500m`), memory in Kubernetes quantities (`512Mi`, `1Gi`,
`1G`, or bytes). Limits given here replace the instance type's; requests are what a
Kubernetes replica is scheduled by (the Docker target has no requests and reads only limits).
"""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import BeforeValidator, model_validator

from .base import SpecModel, field_error

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k)?$")
_MEMORY_UNITS = {
    None: 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


def parse_cpu(value: object) -> float:
    """Cores, from `2`, `0.5` or `500m`."""
    match = _CPU.match(str(value).strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a CPU quantity (cores such as 0.5 or 2, or 500m)")
    number = float(match.group(1))
    return number / 1000 if match.group(2) else number


def parse_memory_mb(value: object) -> int:
    """MiB, from `512Mi`, `1Gi`, `1G`, `0.5Gi` or bytes."""
    match = _MEMORY.match(str(value).strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a memory quantity (such as 512Mi, 1Gi or 1G)")
    mib = float(match.group(1)) * _MEMORY_UNITS[match.group(2)] / 1024**2
    if mib < 4:
        raise ValueError(f"{value!r} is less than 4 MiB: too little memory for a replica")
    return round(mib)


Cores = Annotated[float, BeforeValidator(parse_cpu)]
MemoryMiB = Annotated[int, BeforeValidator(parse_memory_mb)]


class ResourceQuantities(SpecModel):
    cpu: Cores | None = None
    memory: MemoryMiB | None = None


class ResourceSettings(SpecModel):
    requests: ResourceQuantities = ResourceQuantities()
    limits: ResourceQuantities = ResourceQuantities()

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Self:
        for name in ("cpu", "memory"):
            request, limit = getattr(self.requests, name), getattr(self.limits, name)
            if request is not None and limit is not None and request > limit:
                raise field_error(
                    f"requests.{name}", f"is more than limits.{name}: a request fits its limit"
                )
        return self
