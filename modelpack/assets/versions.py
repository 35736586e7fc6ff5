"""Automatic asset versions: an asset without an explicit ``version`` gets ``1`` when first
registered and one more each time its content hash changes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypedDict


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
