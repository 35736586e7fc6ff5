"""Which asset folder, asset root and model store the verbs use for a workspace: the ones its
stack file names, as the program reads them."""

from __future__ import annotations

from pathlib import Path

from modelpack.cli.pulumi_runner import PulumiRunner
from modelpack.cli.workspace_assets import workspace_assets, workspaces_sharing
from modelpack.cli.workspaces import resolve_workspace


def project(tmp_path: Path, stacks: dict[str, str]) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    for name, config in stacks.items():
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text(f"config:\n{config}")
    for folder in ("assets/example", "assets/other"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    return tmp_path


def runner(root: Path, name: str) -> PulumiRunner:
    return PulumiRunner(resolve_workspace(name, root=root, environ={}), environ={})


def test_the_stack_file_names_the_folder_root_and_state(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "dev": "  modelpack:assets: assets/example\n",
            "prod": "  modelpack:assets: assets/example\n  modelpack:stateDir: /srv/prod\n",
            "other": "  modelpack:workspace: assets/other\n  modelpack:assetRoot: assets\n",
            "plain": "  modelpack:routerPort: '1'\n",
        },
    )
    dev = workspace_assets(runner(root, "dev"))
    assert (dev.folder, dev.shown, dev.root) == (
        root / "assets/example",
        Path("assets/example"),
        None,
    )
    assert dev.model_store == root / ".state" / "dev" / "models"
    assert workspace_assets(runner(root, "prod")).model_store == Path("/srv/prod/models")
    other = workspace_assets(runner(root, "other"))
    assert (other.folder, other.root) == (root / "assets/other", root / "assets")
    # no modelpack:assets: the example, as the program deploys it
    assert workspace_assets(runner(root, "plain")).folder == root / "assets/example"
    assert workspaces_sharing(runner(root, "dev"), dev.folder) == ["plain", "prod"]
    assert workspaces_sharing(runner(root, "other"), other.folder) == []
