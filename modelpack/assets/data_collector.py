"""A deployment's ``data_collector`` block, as Azure ML writes it:

    data_collector:
      collections:
        model_inputs: {enabled: 'True'}
        model_outputs: {enabled: 'True'}
        request: {enabled: 'True'}
        response: {enabled: 'True'}
      sampling_rate: 1.0      # share of requests recorded, 0.0-1.0
      rolling_rate: hour      # how finely records are partitioned into folders
      request_logging:
        capture_headers: [x-customer-id]

The injected server records the enabled collections itself, with no change to score.py: what
the scoring script was given (``model_inputs``) and returned (``model_outputs``), and the HTTP
request and response bodies. A collection's ``data`` (Azure's data asset for it) is accepted
and left aside: records go to the workspace's store.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import SpecModel

STANDARD_COLLECTIONS = ("model_inputs", "model_outputs", "request", "response")
"""The collections the server records by itself, in the order a request produces them."""

RollingRate = Literal["minute", "hour", "day", "month", "year"]


class CollectionData(SpecModel):
    """Azure ML's data asset for a collection (where Azure would register its records)."""

    name: str | None = None
    path: str | None = None
    version: str | None = None


class Collection(SpecModel):
    """One collection. Azure's samples write ``enabled: 'True'`` (a string); both spellings
    are accepted."""

    enabled: bool = False
    data: CollectionData | None = None


class RequestLogging(SpecModel):
    capture_headers: list[str] = []
    """Request headers recorded with each ``request`` record (never the authorization
    header, which is the endpoint's key)."""

    @field_validator("capture_headers")
    @classmethod
    def _lower_case(cls, headers: list[str]) -> list[str]:
        lowered = [header.lower() for header in headers]
        if "authorization" in lowered:
            raise ValueError("must not capture authorization: it holds the endpoint's key")
        return lowered


class DataCollector(SpecModel):
    collections: dict[str, Collection]
    sampling_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    rolling_rate: RollingRate = "hour"
    request_logging: RequestLogging = RequestLogging()

    @field_validator("collections")
    @classmethod
    def _standard_only(cls, collections: dict[str, Collection]) -> dict[str, Collection]:
        custom = sorted(set(collections) - set(STANDARD_COLLECTIONS))
        if custom:
            raise ValueError(
                f"{', '.join(custom)}: a custom collection is written by score.py through "
                "azureml-ai-monitoring's Collector, which this server does not provide; it "
                f"records {', '.join(STANDARD_COLLECTIONS)} itself"
            )
        return collections

    @field_validator("rolling_rate", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def enabled(self) -> list[str]:
        """The enabled collections, in `STANDARD_COLLECTIONS` order."""
        return [
            name
            for name in STANDARD_COLLECTIONS
            if name in self.collections and self.collections[name].enabled
        ]
