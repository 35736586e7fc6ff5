"""Kubernetes names for workspace, endpoint and deployment names.

Object names are DNS labels: at most 63 characters of `a-z0-9-`, starting with a letter and
ending with a letter or digit. Azure ML names also allow `_` and capitals, so a name that needs
translating gets a short hash of its original spelling: `Blue_1` and `blue-1` stay two objects.
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 63
_INVALID = re.compile(r"[^a-z0-9-]+")
_SUFFIX_LENGTH = 6


def object_name(*parts: str) -> str:
    """`part-part-...` as a DNS label; unchanged when it already is one."""
    wanted = "-".join(parts)
    name = _INVALID.sub("-", wanted.lower()).strip("-")
    if name and not name[0].isalpha():
        name = f"x-{name}"
    if name == wanted and len(name) <= MAX_LENGTH:
        return name
    suffix = hashlib.sha256(wanted.encode()).hexdigest()[:_SUFFIX_LENGTH]
    head = name[: MAX_LENGTH - _SUFFIX_LENGTH - 1].rstrip("-") or "x"
    return f"{head}-{suffix}"


def namespace_for(stack: str) -> str:
    """The namespace of a workspace (stack)."""
    return object_name("modelpack", stack)
