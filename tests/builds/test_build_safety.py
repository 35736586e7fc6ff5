"""Build contexts that values from a workspace cannot change the meaning of, that keep links
as links, and that are never rewritten once rendered (a preview may render while an up builds).
The real builds are in tests/reliability/test_injection_real.py."""

from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path

import pytest

from modelpack.assets import load_asset_folder
from modelpack.builds import layout_for, render_package_context
from modelpack.builds.folders import prune, publish
from modelpack.builds.server import INFERENCE_SOURCE

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "assets" / "example"
ENV_IMAGE = "sha256:" + "e" * 64
AWKWARD = 'it\'s "q"\nRUN id > /tmp/pwned\n$HOME ${PATH} \\ ü 🎉'


@pytest.fixture
def workspace_root(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("model", "__pycache__"))
    (root / "model").mkdir()
    (root / "model" / "sklearn_regression_model.pkl").write_bytes(b"stand-in model")
    return root


def render(root: Path, parent: Path, name: str = "sklearn-regression-docker-pkg"):
    package = load_asset_folder(root).package(name)
    layout = layout_for(package, "1")
    return render_package_context(package, ENV_IMAGE, "1", layout, parent, environment_hash="h")


def test_env_values_travel_as_build_arguments_never_as_dockerfile_text(
    workspace_root: Path, tmp_path: Path
) -> None:
    plain = render(workspace_root, tmp_path / "plain")
    package = workspace_root / "package-azure-app.yml"
    package.write_text(
        package.read_text() + f"environment_variables:\n  AWKWARD: {json_text(AWKWARD)}\n"
    )
    context = render(workspace_root, tmp_path / "awkward")
    text = (context.folder / "Dockerfile").read_text()
    assert "pwned" not in text and "HOME" not in text
    assert AWKWARD in context.build_args.values()
    # the same steps as without the variable: no RUN, no COPY more
    steps = [line.split()[0] for line in text.splitlines()]
    plain_steps = [
        line.split()[0] for line in (plain.folder / "Dockerfile").read_text().splitlines()
    ]
    assert [s for s in steps if s in ("RUN", "COPY")] == [
        s for s in plain_steps if s in ("RUN", "COPY")
    ]


def json_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_rendering_again_reuses_the_folder_without_writing_it(
    workspace_root: Path, tmp_path: Path
) -> None:
    first = render(workspace_root, tmp_path / "builds")
    dockerfile = first.folder / "Dockerfile"
    before = dockerfile.stat()
    again = render(workspace_root, tmp_path / "builds")
    assert again.folder == first.folder
    assert dockerfile.stat().st_ino == before.st_ino
    assert dockerfile.stat().st_mtime_ns == before.st_mtime_ns


def test_other_content_gets_another_folder_and_the_first_stays(
    workspace_root: Path, tmp_path: Path
) -> None:
    first = render(workspace_root, tmp_path / "builds")
    score = workspace_root / "src" / "score.py"
    original = score.read_text()
    score.write_text(original + "\n# edited by a preview\n")
    second = render(workspace_root, tmp_path / "builds")
    assert second.folder != first.folder
    assert (first.folder / "code" / "score.py").read_text() == original
    assert not [p for p in (tmp_path / "builds").iterdir() if p.name.startswith(".")]


def test_a_render_that_fails_leaves_no_folder(tmp_path: Path) -> None:
    def fail(folder: Path) -> None:
        (folder / "half").write_text("written")
        raise OSError("disk full")

    with pytest.raises(OSError):
        publish(tmp_path, "key", fail)
    assert list(tmp_path.iterdir()) == []


def test_only_folders_unused_for_a_day_are_pruned(tmp_path: Path) -> None:
    old, recent, kept = (tmp_path / name for name in ("old", "recent", "kept"))
    for folder in (old, recent, kept):
        folder.mkdir()
    day_ago = os.stat(recent).st_mtime - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    os.utime(kept, (day_ago, day_ago))
    prune(tmp_path, keep=kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "recent"]


def test_links_inside_model_and_code_stay_links_in_the_context(
    workspace_root: Path, tmp_path: Path
) -> None:
    model = workspace_root / "model"
    (model / "latest.pkl").symlink_to("sklearn_regression_model.pkl")
    (workspace_root / "src" / "score_link.py").symlink_to("score.py")
    context = render(workspace_root, tmp_path / "builds")
    assert os.readlink(context.folder / "model" / "model" / "latest.pkl") == (
        "sklearn_regression_model.pkl"
    )
    assert os.readlink(context.folder / "code" / "score_link.py") == "score.py"


def test_the_server_imports_itself_only_relatively() -> None:
    """The server is copied into images as modelpack_inference_server: an absolute import of
    `inference` would not find it there (or would find a user's package of that name)."""
    offenders = []
    for path in INFERENCE_SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            offenders += [
                f"{path.name}:{node.lineno}"
                for name in names
                if name == "inference" or name.startswith("inference.")
            ]
    assert offenders == []
