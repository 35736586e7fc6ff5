"""Which workspaces a pull request touches (pure, plus one real `git diff`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from modelpack.cli.changes import changed_files, shared_paths, stack_folders, touched_workspaces

FOLDERS = {"dev": "assets/example", "prod": "assets/example", "team": "workspaces/team"}


def test_stack_config_touches_its_workspace() -> None:
    assert touched_workspaces(["stacks/Pulumi.prod.yaml"], FOLDERS) == ["prod"]
    assert touched_workspaces(["stacks/Pulumi.gone.yaml"], FOLDERS) == []


def test_asset_folder_touches_every_workspace_deploying_it() -> None:
    assert touched_workspaces(["assets/example/src/score.py"], FOLDERS) == ["dev", "prod"]
    assert touched_workspaces(["workspaces/team/blue.yml"], FOLDERS) == ["team"]
    assert touched_workspaces(["assets/example2/blue.yml"], FOLDERS) == []


def test_program_changes_touch_all_and_others_none() -> None:
    for path in (
        "components/package.py",
        "modelpack/inference_server/app.py",
        "__main__.py",
        "pyproject.toml",
    ):
        assert touched_workspaces([path], FOLDERS) == ["dev", "prod", "team"], path
    assert (
        touched_workspaces(
            ["README.md", "tests/cli/test_changes.py", "modelpack/cli/promote.py"], FOLDERS
        )
        == []
    )


def test_stack_folders_and_git_diff(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(
        "config:\n  modelpack:workspace: assets/example\n"
    )
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text(
        f"config:\n  modelpack:assets: {tmp_path}/assets/prod/\n"
    )
    (tmp_path / "stacks" / "Pulumi.bare.yaml").write_text("")
    assert stack_folders(tmp_path) == {
        "bare": "assets/example",
        "dev": "assets/example",
        "prod": "assets/prod",
    }
    git("init", "-q", "-b", "main")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    git("checkout", "-qb", "change")
    (tmp_path / "assets" / "prod").mkdir(parents=True)
    (tmp_path / "assets" / "prod" / "blue.yml").write_text("name: blue\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "change")
    changed = changed_files(tmp_path, "main")
    assert changed == ["assets/prod/blue.yml"]
    assert touched_workspaces(changed, stack_folders(tmp_path)) == ["prod"]


def test_paths_beside_the_asset_folder_touch_the_workspace(tmp_path: Path) -> None:
    """Azure's quickstart names ../../model-1/...: a change there touches its workspace."""
    from tests.support.azure_samples import QUICKSTART_PATH, write_quickstart_sample

    write_quickstart_sample(tmp_path)
    folders = {"quick": QUICKSTART_PATH.as_posix(), "other": "assets/example"}
    shared = shared_paths(tmp_path, folders)
    online = "cli/endpoints/online"
    assert shared["quick"] == sorted(
        f"{online}/model-{n}/{part}"
        for n in (1, 2)
        for part in ("environment/conda.yaml", "model", "onlinescoring")
    )
    assert "other" not in shared  # no such folder: nothing but the folder itself is watched
    changed = [f"{online}/model-2/onlinescoring/score.py"]
    assert touched_workspaces(changed, folders, shared) == ["quick"]
    assert touched_workspaces([f"{online}/model-3/x.py"], folders, shared) == []
