"""Printing a verb's result as `az` does: JSON by default, `-o table` (chosen columns),
`-o tsv`; `--query a.b` picks one value first (a dotted path, the part of JMESPath that
scripts use most: `--query scoring_uri -o tsv`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .errors import CliError

FORMATS = ("json", "table", "tsv")

Column = tuple[str, str]
"""(heading, key of the row)."""


def query(value: Any, path: str | None) -> Any:
    if not path:
        return value
    current = value
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            current = current[int(part)]
        else:
            raise CliError(f"--query {path}: no {part!r} in the result")
    return current


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ",".join(_cell(item) for item in value)
    return str(value)


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    cells = [[_cell(row.get(key)) for _, key in columns] for row in rows]
    widths = [
        max([len(heading), *(len(line[i]) for line in cells)])
        for i, (heading, _) in enumerate(columns)
    ]
    lines = [
        "  ".join(
            heading.ljust(width) for (heading, _), width in zip(columns, widths, strict=True)
        ),
        "  ".join("-" * width for width in widths),
    ]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in cells
    ]
    return "\n".join(line.rstrip() for line in lines)


def render(value: Any, output: str, columns: Sequence[Column] = (), path: str | None = None) -> str:
    value = query(value, path)
    if output == "json":
        return json.dumps(value, indent=2)
    if output == "tsv":
        rows = value if isinstance(value, list) else [value]
        return "\n".join(
            "\t".join(_cell(v) for v in row.values()) if isinstance(row, dict) else _cell(row)
            for row in rows
        )
    rows = value if isinstance(value, list) else [value]
    if path or not columns or not all(isinstance(row, dict) for row in rows):
        keys = list(dict.fromkeys(k for row in rows if isinstance(row, dict) for k in row))
        if not keys:
            return "\n".join(_cell(row) for row in rows)
        columns = [(key, key) for key in keys]
    return render_table(rows, columns)
