"""A change to a workspace's asset folder, checked before anything is written.

The verbs that change a workspace describe their change as file operations (write a file,
copy a file or folder in, delete a file). `validate` applies them to a staged copy of the
folder, a hidden sibling of it (so paths that leave the folder, `../model-1`, resolve as they
will), whose files are hard links to the folder's (no data copied); the asset loader checks
the staged folder as `up` would, and its errors are reported against the real folder. Only a
valid change is `commit`ted, each file replaced whole (written beside it, then renamed), so a
reader never sees half a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from modelpack.assets import AssetFolder, AssetFolderError, SpecError

from .errors import CliError


@dataclass(frozen=True)
class FileChange:
    action: str
    """written, created, copied or deleted."""
    path: Path
    """Relative to the asset folder."""
    detail: str = ""


@dataclass(frozen=True)
class _Operation:
    kind: str  # write, copy, delete
    path: Path
    text: str = ""
    source: Path | None = None


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, destination, follow_symlinks=False)


def _replace_file(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` through a temporary file beside it, then rename it into place: never
    through an existing file (a staged copy's files are hard links to the real ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        if path.exists():
            shutil.copymode(path, temporary)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class AssetEdit:
    folder: Path
    """The asset folder (absolute)."""
    shown: Path
    """How messages name it (as the stack config does, e.g. assets/example)."""
    changes: list[FileChange] = field(default_factory=list)
    _operations: list[_Operation] = field(default_factory=list)

    def _relative(self, path: Path) -> Path:
        relative = path.relative_to(self.folder) if path.is_absolute() else path
        if ".." in relative.parts or relative.is_absolute() or not relative.parts:
            raise ValueError(f"{path} is not inside {self.folder}")
        return relative

    def write(self, path: Path, text: str, detail: str = "") -> None:
        relative = self._relative(path)
        action = "written" if (self.folder / relative).exists() else "created"
        self._operations.append(_Operation("write", relative, text=text))
        self.changes.append(FileChange(action, relative, detail))

    def copy(self, source: Path, path: Path, detail: str = "") -> None:
        """Copy a file or a folder (links kept as links) to `path`, which must not exist."""
        relative = self._relative(path)
        if (self.folder / relative).exists():
            raise CliError(
                f"{self.shown / relative} already exists; nothing was written",
                "move it away, or give the asset another name",
            )
        self._operations.append(_Operation("copy", relative, source=source.resolve()))
        self.changes.append(FileChange("copied", relative, detail or f"from {source}"))

    def will_create(self, path: Path) -> bool:
        """Does an operation of this edit already write or copy `path`?"""
        relative = self._relative(path)
        return any(op.path == relative and op.kind != "delete" for op in self._operations)

    def delete(self, path: Path, detail: str = "") -> None:
        relative = self._relative(path)
        self._operations.append(_Operation("delete", relative))
        self.changes.append(FileChange("deleted", relative, detail))

    def shown_path(self, path: Path) -> Path:
        return self.shown / self._relative(path)

    # --- applying ----------------------------------------------------------------------------

    def _apply(self, folder: Path) -> None:
        for operation in self._operations:
            target = folder / operation.path
            if operation.kind == "write":
                _replace_file(target, lambda tmp, text=operation.text: tmp.write_text(text))
            elif operation.kind == "copy":
                assert operation.source is not None
                _copy_in(operation.source, target)
            else:
                target.unlink()

    def validate(self, load: Callable[[Path], AssetFolder]) -> AssetFolder:
        """The asset folder as it would be after the change, loaded by `load` (the asset
        loader with the workspace's settings); raises CliError naming the file and field of
        every problem. Nothing of the real folder is written."""
        try:
            staged = Path(
                tempfile.mkdtemp(prefix=f".{self.folder.name}.edit-", dir=self.folder.parent)
            )
        except OSError as error:
            raise CliError(
                f"cannot stage the change beside {self.shown} to check it: {error}",
                f"the folder holding {self.shown} must be writable; nothing was written",
            ) from None
        try:
            shutil.copytree(
                self.folder,
                staged,
                symlinks=True,
                copy_function=_link_or_copy,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
            self._apply(staged)
            try:
                return load(staged)
            except AssetFolderError as error:
                raise CliError(
                    str(_shown_errors(error, staged, self.shown)),
                    "nothing was written and nothing deployed; fix the value and run again",
                ) from None
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def commit(self) -> list[FileChange]:
        self._apply(self.folder)
        return list(self.changes)


def _copy_in(source: Path, target: Path) -> None:
    if source.is_dir():
        staging = target.with_name(f".{target.name}.copy-{os.getpid()}")
        shutil.copytree(source, staging, symlinks=True)
        staging.rename(target)
    else:
        _replace_file(target, lambda tmp: shutil.copy2(source, tmp))


def _shown_errors(error: AssetFolderError, staged: Path, shown: Path) -> AssetFolderError:
    """`error` with the staged folder's paths named as the real folder's."""

    def rename(text: str) -> str:
        return text.replace(str(staged), str(shown))

    errors = []
    for spec_error in error.errors:
        file = spec_error.file
        if file is not None and file.is_relative_to(staged):
            file = shown / file.relative_to(staged)
        errors.append(SpecError(file, spec_error.field, rename(spec_error.message)))
    return AssetFolderError(shown, errors)
