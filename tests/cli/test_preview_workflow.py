"""The example pull-request workflow (.github/workflows/preview.yml) runs the pull request's own
code: it must hold no production secret and let no event value reach a shell as code."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "preview.yml"


def steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["preview"]["steps"]


def test_the_preview_workflow_gets_no_production_secret() -> None:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["preview"]
    secrets = set(re.findall(r"secrets\.([A-Z0-9_]+)", WORKFLOW.read_text()))
    assert secrets, "the example names the secrets it needs"
    assert not [name for name in secrets if "PROD" in name], secrets
    assert "PULUMI_CONFIG_PASSPHRASE" not in secrets  # one passphrase per workspace
    assert {"MODELPACK_PASSPHRASE_DEV", "STATE_READER_KEY_ID"} <= secrets
    assert "prod" in job["env"]["PROTECTED"].split()
    assert job["environment"] == "preview"


def test_no_expression_is_pasted_into_a_run_script() -> None:
    for step in steps():
        assert "${{" not in step.get("run", ""), step.get("name")


def test_a_hostile_workspace_list_is_data_not_code(tmp_path: Path) -> None:
    """The preview step's own script, run with a step output an attacker chose."""
    (step,) = [s for s in steps() if s.get("name") == "Preview each touched workspace"]
    marker = tmp_path / "pwned"
    (tmp_path / "scripts").symlink_to(REPO / "scripts")  # the step sources scripts/env.sh
    env = {
        **os.environ,
        "WORKSPACES": f"prod $(touch {marker}) `touch {marker}`",
        "PROTECTED": "prod",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp_path,
        env={**env, "BASH_ENV": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not marker.exists()
    assert result.returncode == 1  # the made-up workspace names are refused
    summary = (tmp_path / "summary.md").read_text()
    assert "Workspace `prod` is previewed after the merge (protected)" in summary
    assert "is not a workspace name" in summary
