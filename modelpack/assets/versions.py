"""Automatic asset versions: an asset without an explicit ``version`` gets ``1`` when first
registered and one more each time its content hash changes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from .resolved import ModelAsset


class VersionState(TypedDict):
    """What the provisioning layer remembers of a registered version."""

    version: str
    hash: str


FIRST_VERSION = "1"
_TRAILING_NUMBER = re.compile(r"^(?P<head>.*?)(?P<number>\d+)$")


def bump(version: str) -> str:
    """``3`` -> ``4``, ``1.9`` -> ``1.10``, ``v7`` -> ``v8``; a version not ending in a
    number gets ``.1`` appended."""
    match = _TRAILING_NUMBER.match(version)
    if match is None:
        return f"{version}.1"
    number = match["number"]
    return f"{match['head']}{int(number) + 1:0{len(number)}d}"


def next_version(
    previous: Mapping[str, Any] | None, current_hash: str, explicit: str | None = None
) -> str:
    """The version to register for content `current_hash`.

    `previous` is the last registered ``{"version": ..., "hash": ...}`` (None the first time).
    `explicit` is the version written in the YAML file, which always wins.
    """
    if explicit is not None:
        return str(explicit)
    if previous is None:
        return FIRST_VERSION
    version = str(previous["version"])
    if previous.get("hash") == current_hash:
        return version
    return bump(version)


@dataclass(frozen=True)
class AutoVersion:
    """The version a workspace gives an asset written without one: `assigned` for its
    current content, among every version it holds (`known`, `assigned` included)."""

    assigned: str
    known: tuple[str, ...]


ModelVersions = Callable[["ModelAsset"], AutoVersion]
"""Which version the workspace's model store gives a model written without one."""

FRESH = AutoVersion(FIRST_VERSION, (FIRST_VERSION,))
"""An asset registered for the first time; also every environment and package written
without a version (their images are rebuilt in place, so their version stays 1, the version
Azure gives an environment created once)."""


def fresh_model_versions(_model: ModelAsset) -> AutoVersion:
    return FRESH
