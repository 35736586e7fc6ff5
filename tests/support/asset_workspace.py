"""A copy of the example asset folder as the az-style verbs see a workspace's, without a
stack: for the fast tests of the edits they make."""

from __future__ import annotations

from pathlib import Path

from modelpack.assets import AssetFolder
from modelpack.cli.asset_edit import AssetEdit
from modelpack.cli.workspace_assets import WorkspaceAssets

from .project import copy_example_assets


def example_workspace(tmp_path: Path) -> WorkspaceAssets:
    folder = copy_example_assets(tmp_path / "ws").resolve()
    return WorkspaceAssets(
        workspace="t",
        folder=folder,
        shown=Path("ws"),
        root=None,
        model_store=tmp_path / "state" / "models",
        config_file=tmp_path / "Pulumi.t.yaml",
    )


def commit(ws: WorkspaceAssets, edit: AssetEdit) -> AssetFolder:
    """Check the edit, write it, and load the folder as written."""
    edit.validate(ws.load)
    edit.commit()
    return ws.load()


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its bytes (to check that nothing was written)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
