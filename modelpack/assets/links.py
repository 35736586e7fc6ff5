"""Symbolic links in model and code folders.

A folder is copied into the model store and into images with its links kept as links, so a
link must lead to a place inside the same folder, and by a relative path: an absolute link,
even to a file inside, would point elsewhere once the folder is copied.
"""

from __future__ import annotations

import os
from pathlib import Path


def links_leaving(folder: Path) -> list[str]:
    """One line per link under `folder` that points outside it or is absolute:
    ``"<link, relative to folder>" -> "<its target as written>"``. Nothing is followed."""
    folder = folder.resolve()
    found: list[str] = []
    for directory, dirnames, filenames in os.walk(folder):
        for name in sorted(dirnames + filenames):
            path = Path(directory) / name
            if not path.is_symlink():
                continue
            target = os.readlink(path)
            if os.path.isabs(target) or not path.resolve().is_relative_to(folder):
                found.append(f"{path.relative_to(folder).as_posix()!r} -> {target!r}")
    return found
