"""Fixtures of the spec tests."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for folder in (REPO, HERE):  # the project is not installed as a package
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from asset_helpers import BASE, EXAMPLE, SEED, Files, write_files  # noqa: E402


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[[Files], Path]:
    """Build the base workspace with `changes` applied; returns its folder."""

    def make(changes: Files | None = None) -> Path:
        root = tmp_path / "ws"
        write_files(root, BASE)
        write_files(root, changes or {})
        return root

    return make


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of assets/example with a stand-in model file (train.py is not run)."""
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("model", "__pycache__", "*.pyc"))
    (root / "model").mkdir()
    (root / "model" / "sklearn_regression_model.pkl").write_bytes(b"stand-in model")
    return root


@pytest.fixture
def seed() -> Path:
    return SEED
