"""The one diff of every dynamic provider.

Each resource is `X(name, XArgs, opts)`: its inputs are the fields of `XArgs`, so the diff
compares every input (never a hand-kept list that drifts from the args) and says which of the
changed ones force a replacement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from pulumi.dynamic import DiffResult

ALL = "all"
"""`replace=ALL`: any changed input replaces the resource (it is immutable)."""


def input_names(args_type: type) -> list[str]:
    """The inputs of a resource: the fields of its args dataclass."""
    return [field.name for field in dataclasses.fields(args_type)]


def changed_inputs(args_type: type, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    return [name for name in input_names(args_type) if olds.get(name) != news.get(name)]


def diff_inputs(
    args_type: type,
    olds: dict[str, Any],
    news: dict[str, Any],
    *,
    replace: Collection[str] | str = ALL,
    delete_before_replace: bool = False,
    where_from: Collection[str] = (),
) -> DiffResult:
    """Every changed input is a change; those in `replace` (or all, with ALL) replace.
    Inputs in `where_from` only say where content is read from (a path in the checkout, which
    differs between clones sharing a workspace): a change of them alone is no change."""
    changed = [name for name in changed_inputs(args_type, olds, news) if name not in where_from]
    replaces = changed if replace == ALL else [name for name in changed if name in replace]
    return DiffResult(
        changes=bool(changed),
        replaces=replaces,
        delete_before_replace=delete_before_replace,
    )


def props_of(args: Any, **outputs: Any) -> dict[str, Any]:
    """A resource's props: its args' fields, plus its outputs (None until created)."""
    return {**{name: getattr(args, name) for name in input_names(type(args))}, **outputs}
