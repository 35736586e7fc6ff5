"""Digest references of images in a workspace registry: `127.0.0.1:<port>/<name>@sha256:<hex>`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_REFERENCE = re.compile(
    r"^(?P<host>127\.0\.0\.1):(?P<port>\d{1,5})/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"@(?P<digest>sha256:[0-9a-f]{64})$"
)
_INVALID = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class DigestReference:
    port: int
    repository: str
    digest: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __str__(self) -> str:
        return f"{self.address}/{self.repository}@{self.digest}"


def parse_reference(text: str) -> DigestReference:
    """Parse a digest reference into a loopback registry; ValueError says what is expected."""
    match = _REFERENCE.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a digest reference into a workspace registry "
            "(expected 127.0.0.1:<port>/<name>@sha256:<64 hex digits>)"
        )
    return DigestReference(int(match["port"]), match["repository"], match["digest"])


def repository_name(package: str) -> str:
    """A package name as a registry repository name (lower case; `[a-z0-9._-]`, no runs of
    separators at the ends)."""
    name = _INVALID.sub("-", package.lower()).strip("._-")
    return re.sub(r"([._-])[._-]+", r"\1", name) or "package"
