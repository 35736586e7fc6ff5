"""Build context folders named by their content, written once and never changed.

A `pulumi preview` runs the program while an `up` of the same stack may be building from
these folders: a folder is therefore never rewritten. Each is rendered into a private
temporary folder and renamed into place (atomic); a folder already in place has the same
content and is reused. Folders not used for a day are removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

KEEP_UNUSED_S = 24 * 3600
_TEMPORARY = ".rendering-"


def publish(parent: Path, key: str, fill: Callable[[Path], None]) -> Path:
    """The folder `parent/<key>`, made by `fill(folder)` unless it exists already."""
    final = parent / key
    if final.is_dir():
        os.utime(final)  # in use: keeps `prune` away from it
        return final
    parent.mkdir(parents=True, exist_ok=True)
    temporary = parent / f"{_TEMPORARY}{uuid.uuid4().hex}"
    temporary.mkdir()
    try:
        fill(temporary)
        try:
            temporary.rename(final)
        except OSError:
            if not final.is_dir():  # not lost to a concurrent render of the same content
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    prune(parent, keep=final)
    return final


def prune(parent: Path, keep: Path, unused_s: float = KEEP_UNUSED_S) -> None:
    """Remove the folders of `parent` (other than `keep`) not used for `unused_s`."""
    cutoff = time.time() - unused_s
    for folder in parent.iterdir():
        if folder == keep or not folder.is_dir():
            continue
        with contextlib.suppress(OSError):
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder)
