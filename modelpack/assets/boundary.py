"""How far the paths of an asset folder may reach.

Azure's quickstart keeps its models and scoring code beside the asset folder
(``model: {path: ../../model-1/model/}``), so a path may leave the asset folder; it may not
leave the repository holding it (the nearest folder above with a ``.git``), or the root the
stack names (``modelpack:assetRoot``). An asset folder in no repository keeps to itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Boundary:
    root: Path
    """Absolute: every path an asset names must stay inside it."""
    what: str
    """How errors name it: ``the repository /src/app``."""


def repository_of(folder: Path) -> Path | None:
    """The nearest folder from `folder` up that holds ``.git`` (a folder, or a file in a
    worktree), or None."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def boundary_for(asset_folder: Path, root: Path | None = None) -> Boundary:
    """The boundary of `asset_folder` (absolute): `root` if given, else its repository, else
    the asset folder itself."""
    if root is not None:
        return Boundary(root.resolve(), f"the asset root {root} (modelpack:assetRoot)")
    repository = repository_of(asset_folder)
    if repository is not None:
        return Boundary(repository, f"the repository {repository}")
    return Boundary(asset_folder, f"the workspace folder {asset_folder}")
