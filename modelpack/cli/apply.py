"""How a verb that changes a workspace finishes: check the edited asset folder, write it (the
YAML stays the source of truth), then `up` the workspace, or with `--no-up` stop there.

Pulumi's progress goes to stderr, so stdout carries only the verb's JSON or table."""

from __future__ import annotations

import sys

from modelpack.assets import AssetFolder

from .asset_edit import AssetEdit, FileChange
from .errors import CliError
from .pulumi_runner import PulumiRunner
from .workspace_assets import WorkspaceAssets, workspaces_sharing


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def describe(edit: AssetEdit, change: FileChange) -> str:
    detail = f" ({change.detail})" if change.detail else ""
    return f"{change.action} {edit.shown / change.path}{detail}"


def write_edit(runner: PulumiRunner, ws: WorkspaceAssets, edit: AssetEdit) -> AssetFolder:
    """Validate `edit` and write it; returns the folder as written."""
    edited = edit.validate(ws.load)
    for change in edit.commit():
        note(describe(edit, change))
    sharing = workspaces_sharing(runner, ws.folder)
    if sharing:
        note(
            f"{ws.shown} is also the asset folder of workspace(s) {', '.join(sharing)}: their "
            "next `up` deploys this change too"
        )
    return edited


def apply_edit(
    runner: PulumiRunner,
    ws: WorkspaceAssets,
    edit: AssetEdit,
    up: bool,
    undo: str | None = None,
) -> AssetFolder:
    """Validate `edit`, write it, then `up` unless not `up`. `undo` is a command that takes
    the change back, for the message when the up fails. Returns the folder as written."""
    edited = write_edit(runner, ws, edit)
    if not up:
        note(f"not deployed (--no-up): `modelpack up -w {runner.ws}` deploys it")
        return edited
    runner.out = sys.stderr
    try:
        runner.lifecycle("up")
    except CliError as error:
        files = ", ".join(str(edit.shown / change.path) for change in edit.changes)
        back = f"; or take the change back: `{undo}`" if undo else ""
        raise CliError(
            f"{error.message}\nthe change stays written in {files} (the workspace's YAML is "
            "the source of truth), and what was deployed before keeps serving",
            f"fix the cause the diagnostics above name, then `modelpack up -w {runner.ws}`{back}",
        ) from None
    return edited
