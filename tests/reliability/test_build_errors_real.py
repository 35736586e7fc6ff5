"""A dependency pip cannot install fails `up` with a sentence, not a traceback: which
package, why, and the file that pins it (issue 16 item 6)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.support.project import modelpack_stack
from tests.support.small_workspace import write_small_workspace

pytestmark = pytest.mark.real


def test_a_version_that_does_not_exist(tmp_path: Path) -> None:
    workspace = write_small_workspace(tmp_path / "workspace")
    conda = workspace / "environment" / "conda.yaml"
    conda.write_text("dependencies:\n  - python=3.11\n  - scikit-learn=0.0.1\n")
    stack = modelpack_stack(tmp_path, f"pip{uuid.uuid4().hex[:6]}", workspace)
    try:
        result = stack.run("up", "--yes", check=False)
    finally:
        stack.destroy()
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        f"pip cannot install scikit-learn==0.0.1 (pinned in {conda.resolve()}): no such "
        "version of scikit-learn (available: " in output
    ), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
