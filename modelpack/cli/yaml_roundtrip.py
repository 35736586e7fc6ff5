"""One asset file read and written back with ruamel.yaml's round-trip mode: comments, key
order, quoting and the file's indentation stay as the user wrote them; only the keys a verb
sets change."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from .errors import CliError

_WIDTH = 4096
"""Long lines are not folded."""


class YamlDocument:
    """A YAML mapping as a round-trip document. `shown` names the file in errors."""

    def __init__(self, text: str, shown: Path | str) -> None:
        self.shown = str(shown)
        try:
            _, indent, block_seq_indent = load_yaml_guess_indent(text)
            self._yaml = YAML()
            self._yaml.preserve_quotes = True
            self._yaml.width = _WIDTH
            self._yaml.indent(
                mapping=indent or 2, sequence=indent or 2, offset=block_seq_indent or 0
            )
            data = self._yaml.load(text)
        except MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = error.problem or error.context or "invalid YAML"
            raise CliError(
                f"{self.shown}: invalid YAML at {where}{problem}", "fix the file, then run again"
            ) from None
        except YAMLError as error:
            raise CliError(f"{self.shown}: invalid YAML: {error}", "fix the file") from None
        if not isinstance(data, CommentedMap):
            raise CliError(
                f"{self.shown}: must hold a YAML mapping (an asset's fields), not "
                f"{type(data).__name__ if data is not None else 'nothing'}",
                "give an asset file such as a deployment or environment YAML",
            )
        self.data: CommentedMap = data

    @classmethod
    def read(cls, path: Path, shown: Path | str | None = None) -> YamlDocument:
        shown = shown if shown is not None else path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CliError(f"{shown} does not exist", "give the path of a YAML file") from None
        except (OSError, UnicodeDecodeError) as error:
            raise CliError(f"{shown}: cannot read it: {error}") from None
        return cls(text, shown)

    def dumps(self) -> str:
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        return out.getvalue()

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set a top-level key: in place when it exists, appended at the end otherwise."""
        self.data[key] = value

    def get_path(self, dotted: str) -> Any:
        """The value at `a.b.c`, None when any part is missing."""
        node: Any = self.data
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def set_path(self, dotted: str, value: Any) -> None:
        """Set `a.b.c` (az's `--set a.b.c=value`), creating mappings on the way."""
        parts = dotted.split(".")
        if not all(parts):
            raise CliError(f"--set {dotted}=...: {dotted!r} is not a field path such as a.b.c")
        node: Any = self.data
        for index, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = CommentedMap()
                node[part] = child
            elif not isinstance(child, dict):
                where = ".".join(parts[: index + 1])
                raise CliError(
                    f"{self.shown}: {where} is {child!r}, not a mapping, so --set {dotted} "
                    "cannot go into it"
                )
            node = child
        node[parts[-1]] = value

    def mapping(self, key: str) -> CommentedMap:
        """The mapping under top-level `key`, created (at the end) when missing."""
        value = self.data.get(key)
        if value is None:
            value = CommentedMap()
            self.data[key] = value
        if not isinstance(value, dict):
            raise CliError(f"{self.shown}: {key} is {value!r}, not a mapping")
        return value
