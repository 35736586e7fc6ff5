"""The preview summary for pull requests.

Unit tests read captured `pulumi preview --diff --json` output (tests/cli/fixtures/preview/,
Pulumi 3.274.1, from a deployed throw-away stack `wsa` of the portable example workspace after
one change each: a score.py edit, a traffic change 80/20 -> 50/50, a new deployment `red`, the
three at once, deployment `green` removed, a traffic table naming a missing deployment, no
change; each state trimmed to urn, type, parent and inputs). The real test makes the three
changes to a deployed workspace and summarises real previews.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelpack.cli.preview_summary import (
    changed_keys,
    deployment_changes,
    package_changes,
    parse_preview,
    render_markdown,
    traffic_changes,
)
from tests.support.deployed import DeployedWorkspace
from tests.support.project import DEPLOYMENT, PORTABLE_PACKAGE

FIXTURES = Path(__file__).parent / "fixtures" / "preview"
ENDPOINT = "sklearn-regression-online"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def summary_of(name: str):
    return parse_preview(fixture(name), "wsa")


# --- captured previews ----------------------------------------------------------------------


def test_score_edit_names_the_code_hash_and_the_rolling_deployments() -> None:
    summary = summary_of("score-edit")
    assert summary.counts == {"create": 0, "update": 1, "replace": 4, "delete": 0, "same": 15}
    (package,) = package_changes(summary.changed)
    assert (package.package, package.op) == (PORTABLE_PACKAGE, "replace")
    assert [what for what, _, _ in package.changes] == ["code"]
    rolls = deployment_changes(summary.changed)
    assert [(c.name, c.op, c.reasons) for c in rolls] == [
        (f"{ENDPOINT}/blue", "replace", {"image"}),
        (f"{ENDPOINT}/green", "replace", {"image"}),
    ]
    text = render_markdown(summary)
    assert "**0 to create, 1 to update, 4 to replace, 0 to delete, 15 unchanged**" in text
    assert (
        f"- **{PORTABLE_PACKAGE}**: rebuilt\n  - code changed: `38870b6adfdb` → `d3dd33e19fae`"
        in (text)
    )
    assert "| replace | sklearn-regression-docker-pkg-image | docker:Image |" in text
    assert "hashes.code" in text
    assert f"- **{ENDPOINT}/blue**: replicas roll to the new image (image)" in text
    assert f"- **{ENDPOINT}**: router reloaded, traffic unchanged (blue 80%, green 20%)" in text
    assert text.startswith("<!-- modelpack-preview:wsa -->\n")


def test_traffic_change_shows_before_and_after() -> None:
    summary = summary_of("traffic-change")
    (change,) = traffic_changes(summary.changed)
    assert (change.before, change.after) == ({"blue": 80, "green": 20}, {"blue": 50, "green": 50})
    text = render_markdown(summary)
    assert "| blue | 80% | 50% **(changed)** |" in text
    assert "| green | 20% | 50% **(changed)** |" in text
    assert "#### Packages" not in text and "#### Deployments" not in text


def test_new_deployment_lists_what_it_creates() -> None:
    summary = summary_of("new-deployment")
    (change,) = deployment_changes(summary.changed)
    assert (change.name, change.op) == (f"{ENDPOINT}/red", "create")
    assert sorted(step.kind for step in change.resources) == ["Deployment", "docker:Container"]
    text = render_markdown(summary)
    assert "| create | sklearn-regression-online-red-0 | docker:Container |" in text
    assert "| red | — | 0% **(changed)** |" in text


def test_three_changes_at_once() -> None:
    text = render_markdown(summary_of("three-changes"))
    assert "code changed: `38870b6adfdb` → `d3dd33e19fae`" in text
    assert f"- **{ENDPOINT}/red**: new; creates" in text
    assert "| blue | 80% | 50% **(changed)** |" in text


def test_removed_deployment() -> None:
    summary = summary_of("removed-deployment")
    assert summary.counts["delete"] == 2
    text = render_markdown(summary)
    assert f"- **{ENDPOINT}/green**: removed, with its replicas" in text
    assert "| green | 20% | — **(changed)** |" in text


def test_failed_preview_shows_the_error_once() -> None:
    summary = summary_of("invalid-workspace")
    assert summary.failed
    text = render_markdown(summary)
    assert "**The preview failed:**" in text
    assert text.count("has no deployment 'green'") == 1
    assert "unchanged" not in text


def test_no_change() -> None:
    summary = summary_of("no-change")
    assert summary.changed == [] and not summary.failed
    assert "No changes." in render_markdown(summary)
    assert "using pulumi-language-python" not in render_markdown(summary)


def test_changed_keys_expands_hashes_and_hides_the_provider() -> None:
    old = {"__provider": "a", "hashes": {"code": "1", "model": "2"}, "tag": "t"}
    new = {"__provider": "b", "hashes": {"code": "9", "model": "2"}, "tag": "t"}
    assert changed_keys(old, new) == ["hashes", "hashes.code"]


def test_promoted_digest_and_replace_triplets() -> None:
    """`up --json` style steps (create-replacement, replace, delete-replaced) merge into one
    replace; a promoted package names its digest change."""
    parent = "urn:pulumi:prod::modelpack::modelpack:index:ModelPackage::pkg"
    urn = f"{parent.replace('::pkg', '$pulumi-python:dynamic/docker:PulledImage')}::pkg-promoted"

    def state(reference: str) -> dict:
        return {
            "urn": urn,
            "type": "pulumi-python:dynamic/docker:PulledImage",
            "parent": parent,
            "inputs": {"reference": reference},
        }

    old, new = "127.0.0.1:2/pkg@sha256:" + "a" * 64, "127.0.0.1:2/pkg@sha256:" + "b" * 64
    document = {
        "steps": [
            {"op": op, "urn": urn, "oldState": state(old), "newState": state(new)}
            for op in ("create-replacement", "replace", "delete-replaced")
        ]
    }
    summary = parse_preview(document, "prod")
    assert summary.counts["replace"] == 1 and len(summary.changed) == 1
    assert render_markdown(summary).endswith(
        "- **pkg**: deploys another promoted digest (no build)\n"
        "  - promoted digest changed: `aaaaaaaaaaaa` → `bbbbbbbbbbbb`\n"
    )


# --- real previews of a deployed workspace ------------------------------------------------------


@contextmanager
def edited(workspace: Path) -> Iterator[None]:
    """Restore the asset folder however the test ends."""
    saved = workspace.parent / f"{workspace.name}.saved"
    shutil.copytree(workspace, saved)
    try:
        yield
    finally:
        shutil.rmtree(workspace)
        saved.rename(workspace)


@pytest.mark.real
def test_summaries_of_real_previews(portable_dev: DeployedWorkspace) -> None:
    dev, folder = portable_dev, portable_dev.workspace
    runner = dev.runner()
    code_hash = dev.outputs()["packages"][PORTABLE_PACKAGE]["hashes"]["code"]

    def summary() -> str:
        code, document = runner.preview_json()
        assert code == 0, document.get("diagnostics")
        return render_markdown(parse_preview(document, dev.name))

    with edited(folder):
        score = folder / "src" / "score.py"
        score.write_text(score.read_text() + "\n# a comment changes the code hash\n")
        text = summary()
        assert (
            f"- **{PORTABLE_PACKAGE}**: rebuilt\n  - code changed: `{code_hash[:12]}` → `" in text
        )
        assert "| replace | sklearn-regression-docker-pkg-image | docker:Image |" in text
        assert f"- **{ENDPOINT}/blue**: replicas roll to the new image" in text

    with edited(folder):
        endpoint = folder / "endpoint.yml"
        endpoint.write_text(
            endpoint.read_text().replace("blue: 80", "blue: 60").replace("green: 20", "green: 40")
        )
        text = summary()
        assert "**0 to create, 1 to update, 0 to replace, 0 to delete," in text
        assert "| blue | 80% | 60% **(changed)** |" in text
        assert "| green | 20% | 40% **(changed)** |" in text

    with edited(folder):
        (folder / "red.yml").write_text(DEPLOYMENT.format(name="red", package=PORTABLE_PACKAGE))
        text = summary()
        assert "**2 to create, 1 to update, 0 to replace, 0 to delete," in text
        assert "| create | sklearn-regression-online-red | Deployment |" in text
        assert "| create | sklearn-regression-online-red-0 | docker:Container |" in text
        assert f"- **{ENDPOINT}/red**: new; creates" in text
        assert "| red | — | 0% **(changed)** |" in text

    # The folder is back as it was: nothing to change.
    dev.stack.run("preview", "--expect-no-changes")
