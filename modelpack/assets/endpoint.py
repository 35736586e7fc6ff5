"""The managed online endpoint (``endpoint.yml``)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from .base import AssetModel, DeploymentName, EndpointName, Tags, field_error

AuthMode = Literal["key", "aml_token"]
Percent = Annotated[int, Field(ge=0, le=100)]
MirrorPercent = Annotated[int, Field(ge=0, le=50)]


class OnlineEndpoint(AssetModel):
    """An endpoint: one address, its keys, and how live traffic is split between its
    deployments (`traffic`, percentages adding up to 100, or all 0) and copied to one more
    (`mirror_traffic`, at most 50 percent, to a deployment that takes no live traffic)."""

    name: EndpointName
    auth_mode: AuthMode = "key"
    traffic: dict[DeploymentName, Percent] = {}
    mirror_traffic: dict[DeploymentName, MirrorPercent] = {}
    description: str | None = None
    tags: Tags = {}

    @model_validator(mode="after")
    def _traffic_adds_up(self) -> Self:
        total = sum(self.traffic.values())
        if total not in (0, 100):
            shares = ", ".join(f"{name} {share}" for name, share in self.traffic.items())
            raise field_error("traffic", f"must add up to 100 or be all 0 (got {total}: {shares})")
        mirrored = {name: share for name, share in self.mirror_traffic.items() if share}
        if len(mirrored) > 1:
            raise field_error(
                "mirror_traffic",
                f"can copy traffic to one deployment only (got {', '.join(mirrored)})",
            )
        for name in mirrored:
            if self.traffic.get(name, 0) > 0:
                raise field_error(
                    f"mirror_traffic.{name}",
                    f"deployment {name!r} takes live traffic ({self.traffic[name]}%); a "
                    "deployment can take live or mirrored traffic, not both",
                )
        return self
