"""Stable content hashes (sha256, hex) of files, folder trees and plain data, used as inputs
that decide what goes into a package image.

A tree hash covers every file's path relative to the hashed root (with ``/`` separators)
and its bytes, in sorted order, so it does not depend on where the folder lives, on
timestamps or on the file system's listing order. ``__pycache__`` folders and ``*.pyc``
files are left out. A symbolic link is hashed as the link it is (its target as written), never
followed: the folder is copied with its links kept, and a link leading out of it must not pull
outside content into the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_CHUNK = 1024 * 1024
IGNORED_DIRS = frozenset({"__pycache__"})
IGNORED_SUFFIXES = frozenset({".pyc"})


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_file(path: Path | str) -> str:
    """sha256 of one file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _ignored(path: Path) -> bool:
    return path.suffix in IGNORED_SUFFIXES


def iter_tree(root: Path | str) -> Iterator[tuple[str, Path]]:
    """(relative posix path, path) of every file and symbolic link under `root`, sorted,
    ignoring ``__pycache__`` and ``*.pyc``. Links (to files or folders) are not followed."""
    root = Path(root)
    found: list[tuple[str, Path]] = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS]
        links = [d for d in dirnames if (Path(directory) / d).is_symlink()]
        for name in filenames + links:
            path = Path(directory) / name
            if _ignored(path):
                continue
            found.append((path.relative_to(root).as_posix(), path))
    found.sort(key=lambda item: item[0])
    yield from found


def hash_tree(root: Path | str) -> str:
    """sha256 over the files under the folder `root` (paths relative to `root`)."""
    digest = hashlib.sha256(b"tree\0")
    for relative, path in iter_tree(root):
        if path.is_symlink():
            content = b"link\0" + os.readlink(path).encode("utf-8", "surrogateescape")
        else:
            content = hash_file(path).encode()
        digest.update(relative.encode("utf-8") + b"\0" + content + b"\n")
    return digest.hexdigest()


def hash_path(path: Path | str) -> str:
    """sha256 of a file or a folder *including its own name*: a model registered from
    ``path: model`` is found at ``$AZUREML_MODEL_DIR/model/...``, so renaming the folder
    changes the package."""
    path = Path(path)
    digest = hashlib.sha256(b"path\0" + path.name.encode("utf-8") + b"\0")
    if path.is_symlink():
        digest.update(b"link\0" + os.readlink(path).encode("utf-8", "surrogateescape"))
    elif path.is_dir():
        digest.update(b"dir\0" + hash_tree(path).encode())
    else:
        digest.update(b"file\0" + hash_file(path).encode())
    return digest.hexdigest()


def hash_data(data: Any) -> str:
    """sha256 of JSON-serialisable data, independent of dict key order."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hash_bytes(text.encode("utf-8"))
