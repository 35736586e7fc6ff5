"""Which workspaces a change touches, for pull-request previews.

    modelpack touched-workspaces --base origin/main [--head HEAD]

prints one workspace per line:

- `stacks/Pulumi.<ws>.yaml` changed: workspace `<ws>`;
- a file under a workspace's asset folder (its `modelpack:assets`), or under a model, code or
  conda path its assets name outside it, changed: that workspace (every workspace deploying
  that folder);
- anything the program is built from changed (components/, modelpack/ but for the command
  in modelpack/cli/, __main__.py, Pulumi.yaml, pyproject.toml, stacks/workspaces.yaml):
  every workspace;
- anything else (docs, tests, modelpack/cli/, CI files): none.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import yaml

from modelpack import names
from modelpack.assets import AssetFolderError, SpecError, load_asset_folder

from .errors import CliError

PROGRAM_PATHS = (
    "components/",
    "modelpack/",
    "__main__.py",
    "Pulumi.yaml",
    "pyproject.toml",
    "stacks/workspaces.yaml",
)
COMMAND_PATH = "modelpack/cli/"
"""The command itself: not part of what a preview runs."""


def stack_folders(root: Path, stacks_dir: str = "stacks") -> dict[str, str]:
    """workspace -> its asset folder (relative to `root`, posix), from `stacks/Pulumi.*.yaml`."""
    folders = {}
    for path in sorted((root / stacks_dir).glob("Pulumi.*.yaml")):
        workspace = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        document = yaml.safe_load(path.read_text())
        config = (document.get("config") if isinstance(document, dict) else None) or {}
        folder = str(names.asset_folder_in(config) or names.DEFAULT_ASSETS_FOLDER)
        folder_path = Path(folder)
        if folder_path.is_absolute():
            try:
                folder = folder_path.relative_to(root).as_posix()
            except ValueError:
                folder = folder_path.as_posix()
        folders[workspace] = PurePosixPath(folder).as_posix().rstrip("/")
    return folders


def shared_paths(root: Path, folders: dict[str, str]) -> dict[str, list[str]]:
    """workspace -> the model, code and dependency paths its assets name outside its asset
    folder (`../../model-1/model/`), relative to `root`. A folder that does not load names
    none (its preview fails anyway, and the folder itself is watched)."""
    shared: dict[str, list[str]] = {}
    for workspace, folder in folders.items():
        try:
            assets = load_asset_folder(root / folder)
        except (AssetFolderError, SpecError):
            continue
        paths = {package.model.path for package in assets.packages}
        paths |= {package.code_dir for package in assets.packages if package.code_dir}
        for package in assets.packages:
            environment = package.base_environment
            if environment is not None:
                paths |= {environment.conda_file, environment.pip_requirements_file} - {None}
        inside = (root / folder).resolve()
        shared[workspace] = sorted(
            path.relative_to(root.resolve()).as_posix()
            for path in paths
            if path is not None
            and not path.is_relative_to(inside)
            and path.is_relative_to(root.resolve())
        )
    return shared


def touched_workspaces(
    changed: Iterable[str],
    folders: dict[str, str],
    shared: dict[str, list[str]] | None = None,
) -> list[str]:
    """The workspaces (of `folders`: workspace -> asset folder) that the changed paths touch;
    `shared`: paths outside its folder a workspace's assets name (see `shared_paths`)."""
    touched: set[str] = set()
    for path in changed:
        path = PurePosixPath(path).as_posix()
        if path.startswith(PROGRAM_PATHS) and not path.startswith(COMMAND_PATH):
            return sorted(folders)
        if path.startswith("stacks/Pulumi.") and path.endswith(".yaml"):
            workspace = path.removeprefix("stacks/Pulumi.").removesuffix(".yaml")
            if workspace in folders:
                touched.add(workspace)
            continue
        for workspace, folder in folders.items():
            watched = [folder, *(shared or {}).get(workspace, [])]
            if any(path == w or path.startswith(w + "/") for w in watched):
                touched.add(workspace)
    return sorted(touched)


def changed_files(root: Path, base: str, head: str = "HEAD") -> list[str]:
    """Paths changed between the merge base of `base` and `head` (`git diff base...head`)."""
    diff = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...{head}"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if diff.returncode != 0:
        raise CliError(
            f"git diff {base}...{head} failed: {diff.stderr.strip()}",
            "fetch the base branch (actions/checkout with fetch-depth: 0)",
        )
    return [line for line in diff.stdout.splitlines() if line.strip()]
