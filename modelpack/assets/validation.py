"""Turning pydantic's ValidationError into `SpecError`s that read like
``file: dotted.field: must be one of a, b (got 'x')``."""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .base import FIELD_ERROR, INLINE_TAG, REFERENCE_TAG
from .errors import SpecError

# Union tags, and the marker pydantic puts after a mapping key that failed (the key itself
# names the field well enough).
_TAGS = {INLINE_TAG, REFERENCE_TAG, "[key]"}


def format_field(loc: typing.Sequence[str | int]) -> str:
    """``('dependencies', 3)`` -> ``dependencies[3]``; ``('a', 'b')`` -> ``a.b``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(model: type[BaseModel], loc: typing.Sequence[str | int]) -> type[BaseModel] | None:
    """The model class found at `loc` below `model`, following field types."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not _is_model(current):
            current = _inner_model(current)
            if isinstance(part, int):
                continue
        if not _is_model(current):
            return None
        field = _field_by_key(current, part)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if _is_model(current) else None


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _inner_model(annotation: Any) -> Any:
    """The first BaseModel subclass inside an annotation (Optional, unions, lists, dicts)."""
    if _is_model(annotation):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in _keys(name, info):
            return info
    return None


def _keys(name: str, info: Any) -> list[str]:
    if info.alias:
        return [info.alias]
    choices = getattr(info.validation_alias, "choices", None)
    if choices:
        return [c for c in choices if isinstance(c, str)]
    return [name]


def allowed_keys(model: type[BaseModel]) -> list[str]:
    keys: list[str] = []
    for name, info in model.model_fields.items():
        keys.extend(_keys(name, info))
    return keys


def _message(error: ErrorDetails, root: type[BaseModel] | None) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == FIELD_ERROR:
        return str(ctx["message"])
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1]) if error["loc"] else ""
        parent = _model_at(root, _clean(error["loc"][:-1])) if root else None
        if parent is None:
            return "unknown field"
        keys = allowed_keys(parent)
        close = difflib.get_close_matches(key, keys, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown field ({hint}allowed: {', '.join(keys)})"
    if kind in ("literal_error", "enum"):
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"must be one of {', '.join(allowed)} (got {_got(value)})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping (got {_got(value)})"
    if kind == "list_type":
        return f"must be a list (got {_got(value)})"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    msg = str(error["msg"])
    msg = re.sub(r"^Input should be", "must be", msg)
    msg = re.sub(r"^Field required", "is required", msg)
    return f"{msg} (got {_got(value)})"


def _clean(loc: typing.Sequence[str | int]) -> list[str | int]:
    return [part for part in loc if part not in _TAGS]


def errors_from_validation(
    exc: ValidationError,
    file: Path | str | None,
    prefix: typing.Sequence[str | int] = (),
    model: type[BaseModel] | None = None,
) -> list[SpecError]:
    """One SpecError per pydantic error, located at `prefix` + the error's location."""
    errors: list[SpecError] = []
    for error in exc.errors(include_url=False):
        loc = _clean(error["loc"])
        if error["type"] == FIELD_ERROR:
            loc += str((error.get("ctx") or {})["field"]).split(".")
        message = _message(error, model)
        errors.append(SpecError(file, format_field([*prefix, *loc]), message))
    return errors


def validate(
    model: type[BaseModel], data: Any, file: Path | str | None
) -> tuple[Any, list[SpecError]]:
    """Validate `data` as `model`; returns (instance or None, errors)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, errors_from_validation(exc, file, model=model)
