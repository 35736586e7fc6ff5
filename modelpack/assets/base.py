"""Shared pieces of the asset models: the strict base class, common field types and the
helper that lets a model-level check point at one field."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
)
from pydantic_core import PydanticCustomError

# Tags of the "a reference string or an inline mapping" unions. They show up in pydantic's
# error locations; `spec.validation` drops them. Angle brackets keep them apart from any name.
REFERENCE_TAG = "<reference>"
INLINE_TAG = "<inline>"

FIELD_ERROR = "spec_field"


class SpecModel(BaseModel):
    """Base of every model in `spec`: unknown fields are errors, numbers given where text is
    expected (``version: 1``) become text, and loaded specs are immutable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        str_strip_whitespace=True,
    )


class AssetModel(SpecModel):
    """Base of the top-level YAML assets: allows the Azure ML ``$schema`` key."""

    schema_url: str | None = Field(default=None, alias="$schema")


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error for a model validator to raise that points at `field` (dotted, relative to
    the model being validated) rather than at the model itself."""
    return PydanticCustomError(FIELD_ERROR, "{message}", {"field": field, "message": message})


_ASSET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")
_ENDPOINT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$")
# '_' too: Azure's own packages sample names a deployment regular_deployment.
_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")


def _matching(pattern: re.Pattern[str], rule: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{rule} (got {value!r})")
        return value

    return AfterValidator(check)


AssetName = Annotated[
    str,
    _matching(
        _ASSET_NAME,
        "must start with a letter, digit or '_' and contain only letters, digits, '-', '_' "
        "and '.' (at most 255 characters)",
    ),
]
EndpointName = Annotated[
    str,
    _matching(
        _ENDPOINT_NAME,
        "must be 3 to 32 characters: a letter first, then letters, digits and '-', "
        "not ending in '-'",
    ),
]
DeploymentName = Annotated[
    str,
    _matching(
        _DEPLOYMENT_NAME,
        "must be 1 to 32 characters: a letter first, then letters, digits, '-' and '_'",
    ),
]
Version = Annotated[
    str,
    _matching(_VERSION, "must be letters, digits, '.', '_' or '-' (at most 50 characters)"),
]
Tags = dict[str, str]


def shape_tag(value: Any) -> str:
    """The union tag for `value`: inline for a mapping, reference for anything else."""
    return INLINE_TAG if isinstance(value, dict | BaseModel) else REFERENCE_TAG


def reference_or_inline(reference: Any, inline: type[BaseModel]) -> Any:
    """The type "a reference string, or the asset written inline as a mapping" (as a
    deployment's ``model:`` and ``environment:`` are in Azure ML). Only the branch that fits
    the value's shape is tried, so errors name the real problem."""
    return Annotated[
        Annotated[reference, Tag(REFERENCE_TAG)] | Annotated[inline, Tag(INLINE_TAG)],
        Discriminator(shape_tag),
    ]


_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def container_path(value: str) -> str:
    """An absolute POSIX path inside a container (``/var/azureml-app/model``) of letters,
    digits, '_', '.' and '-' only: it becomes a Dockerfile destination and a mount target."""
    segments = value.split("/")[1:]
    if not value.startswith("/") or not all(_PATH_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(
            "must be an absolute path inside the container whose parts are letters, digits, "
            f"'_', '.' and '-' (no '..', no empty part, no trailing '/') (got {value!r})"
        )
    return value


ContainerPath = Annotated[str, AfterValidator(container_path)]

_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _variable_value(value: str) -> str:
    if "\0" in value:
        raise ValueError("a value cannot hold a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{value!r} is not valid Unicode (a lone surrogate)") from None
    return value


# Values are kept exactly as written (no whitespace stripped): they reach the container byte
# for byte.
EnvironmentVariables = dict[
    Annotated[
        str,
        _matching(
            _VARIABLE_NAME, "must be a letter or '_', then letters, digits or '_' (a variable name)"
        ),
    ],
    Annotated[str, StringConstraints(strip_whitespace=False), AfterValidator(_variable_value)],
]
