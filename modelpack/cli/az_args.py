"""The values `az ml` takes on its command line, parsed: traffic tables
(`--traffic "blue=90 green=10"`) and `--set field.path=value`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from .errors import CliError

_SHARE = re.compile(r"^(?P<name>[^=\s]+)=(?P<value>-?\d+)$")


def parse_shares(words: Sequence[str], option: str) -> dict[str, int]:
    """`["blue=90 green=10"]` or `["blue=90", "green=10"]` (commas work too) -> a table of
    percentages, in the order given."""
    table: dict[str, int] = {}
    for word in " ".join(words).replace(",", " ").split():
        match = _SHARE.match(word)
        if match is None:
            raise CliError(
                f"{option}: {word!r} is not <deployment>=<percent>",
                f'write it as az does: {option} "blue=90 green=10"',
            )
        name = match["name"]
        if name in table:
            raise CliError(f"{option}: deployment {name!r} is given twice")
        table[name] = int(match["value"])
    if not table:
        raise CliError(f"{option}: no <deployment>=<percent> given")
    return table


def parse_set(items: Sequence[str] | None) -> list[tuple[str, Any]]:
    """`["instance_count=2", "environment_variables.MODE=fast"]` -> [(path, value)]; values
    are read as YAML scalars (2 is a number, true a boolean, "2" text)."""
    pairs = []
    for item in items or ():
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise CliError(
                f"--set {item!r}: expected <field>=<value>", "e.g. --set instance_count=2"
            )
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as error:
            raise CliError(f"--set {item!r}: the value is not valid YAML: {error}") from None
        pairs.append((path.strip(), value))
    return pairs


def describe_shares(before: dict[str, int], after: dict[str, int]) -> str:
    """`blue 80 -> 90, green 20 -> 10` for the deployments whose share changes."""
    parts = []
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name), after.get(name)
        if old != new:
            parts.append(f"{name} {'-' if old is None else old} -> {'-' if new is None else new}")
    return ", ".join(parts) or "unchanged"


def shares_argument(table: dict[str, int]) -> str:
    """A table as az's argument: `blue=80 green=20`."""
    return " ".join(f"{name}={share}" for name, share in table.items())
