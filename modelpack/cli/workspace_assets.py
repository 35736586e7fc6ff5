"""The asset folder a workspace deploys, found and loaded as its program does: the folder
`modelpack:assets` names in the workspace's stack file (relative to the project), paths
bounded by `modelpack:assetRoot`, model versions from the workspace's model store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from modelpack import names
from modelpack.assets import AssetFolder, AssetFolderError, load_asset_folder
from modelpack.providers.model_store import auto_versions

from .asset_edit import AssetEdit
from .errors import CliError
from .pulumi_runner import PulumiRunner


@dataclass(frozen=True)
class WorkspaceAssets:
    workspace: str
    folder: Path
    """Absolute."""
    shown: Path
    """As messages name it: relative to the project when inside it."""
    root: Path | None
    """`modelpack:assetRoot` (absolute), None for the default boundary."""
    model_store: Path
    config_file: Path

    def load(self, folder: Path | None = None) -> AssetFolder:
        """Load the asset folder (or a staged copy of it); raises AssetFolderError."""
        return load_asset_folder(
            folder or self.folder, root=self.root, model_versions=auto_versions(self.model_store)
        )

    def current(self) -> AssetFolder:
        """The folder as it is now; a CliError naming every problem when it is not valid."""
        try:
            return self.load()
        except AssetFolderError as error:
            text = str(error).replace(str(self.folder), str(self.shown))
            raise CliError(
                f"the asset folder of workspace '{self.workspace}' is not valid now:\n{text}",
                f"fix {self.shown} first (nothing was changed)",
            ) from None

    def edit(self) -> AssetEdit:
        return AssetEdit(self.folder, self.shown)

    def path(self, file: Path) -> Path:
        """An asset's `file` (as the loader names it) as an absolute path."""
        return file if file.is_absolute() else self.folder / file


def workspace_assets(runner: PulumiRunner) -> WorkspaceAssets:
    project = runner.workspace.project_dir
    config = runner.stack_file_config()
    folder = _under(project, str(names.asset_folder_in(config) or names.DEFAULT_ASSETS_FOLDER))
    if not folder.is_dir():
        raise CliError(
            f"workspace '{runner.ws}' deploys the asset folder {folder}, which does not exist",
            f"set {names.config_key(names.CONFIG_ASSETS)} in {runner.workspace.stack_config_file}",
        )
    root = config.get(names.config_key(names.CONFIG_ASSET_ROOT))
    state = config.get(names.config_key(names.CONFIG_STATE_DIR))
    state_dir = _under(project, str(state)) if state else runner.workspace.state_dir
    try:
        shown = folder.relative_to(project.resolve())
    except ValueError:
        shown = folder
    return WorkspaceAssets(
        workspace=runner.ws,
        folder=folder,
        shown=shown,
        root=_under(project, str(root)) if root else None,
        model_store=state_dir / "models",
        config_file=runner.workspace.stack_config_file,
    )


def _under(project: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return (path if path.is_absolute() else project / path).resolve()


def workspaces_sharing(runner: PulumiRunner, folder: Path) -> list[str]:
    """The other workspaces whose stack file names the same asset folder: their next `up`
    deploys a change to it too."""
    project = runner.workspace.project_dir
    sharing = []
    for path in sorted(runner.workspace.stack_config_file.parent.glob("Pulumi.*.yaml")):
        workspace = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        if workspace == runner.ws:
            continue
        try:
            document = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        config = (document.get("config") if isinstance(document, dict) else None) or {}
        named = names.asset_folder_in(config) or names.DEFAULT_ASSETS_FOLDER
        if _under(project, str(named)) == folder:
            sharing.append(workspace)
    return sharing
