"""Reading YAML files strictly: syntax errors and repeated keys become `SpecError`s with
their line number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping and keeps decimal-looking
    scalars as text, so that ``version: 1.10`` stays ``"1.10"`` (no field takes a float)."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} is given twice (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, display: Path | None = None) -> Any:
    """Parse the YAML file at `path`. Errors name `display` (default: `path`)."""
    shown = display if display is not None else path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(shown, "", f"cannot read file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(shown, "", f"not UTF-8 text: {exc}") from exc
    if not text.strip():
        return None  # whitespace only (tabs included, which YAML itself refuses): empty
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(shown, "", f"invalid YAML at {where}{problem}") from exc
    except yaml.YAMLError as exc:
        raise SpecError(shown, "", f"invalid YAML: {exc}") from exc
