"""A change is checked on a staged copy of the asset folder before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelpack.cli.errors import CliError
from tests.support.asset_workspace import example_workspace, folder_bytes


def test_a_bad_change_writes_nothing_and_names_the_real_file(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    before = folder_bytes(ws.folder)
    edit = ws.edit()
    text = (ws.folder / "endpoint.yml").read_text().replace("green: 20", "green: 30")
    edit.write(ws.folder / "endpoint.yml", text)
    with pytest.raises(CliError) as raised:
        edit.validate(ws.load)
    message = str(raised.value)
    assert "ws/endpoint.yml: traffic: must add up to 100 or be all 0 (got 110" in message
    assert ".edit-" not in message  # the staged copy is never named
    assert "nothing was written" in message
    assert folder_bytes(ws.folder) == before
    assert sorted(p.name for p in ws.folder.parent.iterdir()) == ["ws"]  # staging removed


def test_a_valid_change_is_checked_then_written(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    edit = ws.edit()
    text = (ws.folder / "blue.yml").read_text().replace("instance_count: 1", "instance_count: 3")
    edit.write(ws.folder / "blue.yml", text, "instance_count: 1 -> 3")
    edit.delete(ws.folder / "package-azure-app.yml")
    staged = edit.validate(ws.load)
    assert staged.deployment("sklearn-regression-online", "blue").instance_count == 3
    # validated on the staged copy: the real folder is untouched until commit
    assert "instance_count: 1" in (ws.folder / "blue.yml").read_text()
    assert (ws.folder / "package-azure-app.yml").exists()
    changes = edit.commit()
    assert [(c.action, str(c.path)) for c in changes] == [
        ("written", "blue.yml"),
        ("deleted", "package-azure-app.yml"),
    ]
    assert "instance_count: 3" in (ws.folder / "blue.yml").read_text()
    assert not (ws.folder / "package-azure-app.yml").exists()
    assert ws.load().deployment("sklearn-regression-online", "blue").instance_count == 3


def test_staging_never_writes_through_to_the_real_files(tmp_path: Path) -> None:
    """The staged copy's files are hard links to the real ones: a write there must replace
    the link, not the shared file."""
    ws = example_workspace(tmp_path)
    original = (ws.folder / "src" / "score.py").read_bytes()
    edit = ws.edit()
    edit.write(ws.folder / "src" / "score.py", "def init(:\n")
    with pytest.raises(CliError, match="score.py"):
        edit.validate(ws.load)
    assert (ws.folder / "src" / "score.py").read_bytes() == original


def test_copying_onto_an_existing_file_is_refused(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    with pytest.raises(CliError, match="ws/model.yml already exists"):
        ws.edit().copy(tmp_path / "anything", ws.folder / "model.yml")
    with pytest.raises(ValueError):
        ws.edit().write(ws.folder.parent / "outside.yml", "x")
