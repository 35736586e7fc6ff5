"""Asset references as Azure ML writes them, and their parsing.

Accepted forms (``<kind>`` is ``models`` or ``environments``):

- ``azureml:<name>:<version>``
- ``azureml:<name>@latest``
- ``azureml://registries/<r>/<kind>/<name>/versions/<v>``,
  ``azureml://subscriptions/<s>/resourceGroups/<g>/workspaces/<w>/<kind>/<name>/versions/<v>``
  (also ``.../<kind>/<name>/labels/latest`` and ``azureml://locations/...``)
- ``/subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.MachineLearningServices/``
  ``workspaces/<w>/<kind>/<name>/versions/<v>``

A long id is resolved inside the workspace by its kind, name and version; the subscription,
group, workspace or registry it names is kept but not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

LATEST = "latest"

_SHORT_VERSIONED = re.compile(r"^azureml:(?P<name>[^:@/]+):(?P<version>[^:@/]+)$")
_SHORT_LATEST = re.compile(r"^azureml:(?P<name>[^:@/]+)@(?P<label>[^:@/]+)$")
_LONG_TAIL = re.compile(
    r"(?:^|/)(?P<kind>models|environments)/(?P<name>[^/]+)"
    r"(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?/?$",
    re.IGNORECASE,
)

KIND_WORDS = {"models": "model", "environments": "environment"}


@dataclass(frozen=True)
class Reference:
    """A parsed reference: the asset `name`, its `version` (None means the latest) and, for
    long ids, the `kind` they name (``model`` or ``environment``)."""

    text: str
    name: str
    version: str | None
    kind: str | None = None

    @property
    def is_latest(self) -> bool:
        return self.version is None

    def __str__(self) -> str:
        return self.text


FORMS = "azureml:<name>:<version>, azureml:<name>@latest or a long resource id"


def parse_reference(text: str) -> Reference:
    """Parse a reference, raising ValueError with a readable message when it is malformed."""
    text = text.strip()
    if match := _SHORT_VERSIONED.match(text):
        return Reference(text, match["name"], match["version"])
    if match := _SHORT_LATEST.match(text):
        if match["label"] != LATEST:
            raise ValueError(f"only the label @latest is supported (got {text!r})")
        return Reference(text, match["name"], None)
    if text.startswith("azureml://") or text.lower().startswith("/subscriptions/"):
        match = _LONG_TAIL.search(text)
        if match:
            if match["label"] is not None and match["label"] != LATEST:
                raise ValueError(f"only the label latest is supported (got {text!r})")
            return Reference(
                text, match["name"], match["version"], KIND_WORDS[match["kind"].lower()]
            )
        raise ValueError(
            f"a long id must end in models/<name>/versions/<version> or "
            f"environments/<name>/versions/<version> (got {text!r})"
        )
    if text.startswith("azureml:") and ":" not in text[len("azureml:") :]:
        raise ValueError(f"give a version or @latest: {text}:<version> or {text}@latest")
    raise ValueError(f"must be {FORMS} (got {text!r})")


def _check(text: str) -> str:
    parse_reference(text)
    return text


ReferenceStr = Annotated[str, AfterValidator(_check)]
"""A string field holding a reference; malformed ones fail validation at that field."""
