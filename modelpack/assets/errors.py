"""Errors raised while reading a workspace: one `SpecError` per problem, gathered in a
`AssetFolderError`.

A `SpecError` names the file it was found in, the dotted field inside that file
(`inferencing_server.code_configuration.entry_script`, `traffic.green`,
`dependencies[3]`) and a message; `str()` reads
``workspace/package-moe.yml: inferencing_server.type: must be one of ...``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class SpecError(Exception):
    """One problem in one file of a workspace."""

    def __init__(self, file: Path | str | None, field: str, message: str) -> None:
        self.file = Path(file) if file is not None else None
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [str(self.file)] if self.file is not None else []
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)

    def __repr__(self) -> str:
        return f"SpecError({str(self.file)!r}, {self.field!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpecError):
            return NotImplemented
        return (self.file, self.field, self.message) == (other.file, other.field, other.message)

    def __hash__(self) -> int:
        return hash((self.file, self.field, self.message))


class AssetFolderError(Exception):
    """Every problem found in a workspace, one per line."""

    def __init__(self, folder: Path | str, errors: Iterable[SpecError]) -> None:
        self.folder = Path(folder)
        self.errors: list[SpecError] = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.errors)
        noun = "error" if count == 1 else "errors"
        lines = [f"{count} {noun} in workspace {self.folder}:"]
        lines.extend(str(error) for error in self.errors)
        return "\n".join(lines)
