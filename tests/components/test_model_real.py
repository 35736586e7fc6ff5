"""Model versions through the real path: a model registered into the stack's model store
(`<stateDir>/models/<name>/<version>`) by `pulumi up`. Models are registered for the packages
that use them, so the workspace holds the lightest package there is: a custom server on the
base image with the model mounted (nothing to install, nothing copied)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import docker
import pytest

from tests.support.project import modelpack_stack

pytestmark = pytest.mark.real


def versions(store: Path) -> dict[str, str]:
    """version -> the content of the registered model file."""
    return {
        folder.name: (folder / "model" / "weights.txt").read_text()
        for folder in sorted((store / "m").iterdir())
    }


def test_versions_follow_content(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    (workspace / "model").mkdir(parents=True)
    weights = workspace / "model" / "weights.txt"
    weights.write_text("a")
    (workspace / "model.yml").write_text("name: m\npath: model\n")
    (workspace / "environment.yml").write_text("name: plain\nimage: python:3.11-slim\n")
    (workspace / "package.yml").write_text(
        "$schema: http://azureml/sdk-2-0/ModelVersionPackage.json\n"
        "target_environment_name: m-pkg\n"
        "base_environment_source: {type: environment_asset, resource_id: azureml:plain@latest}\n"
        "inferencing_server:\n  type: custom\n"
        "  inference_configuration: {scoring_route: {port: 8000, path: /}}\n"
    )
    stack = modelpack_stack(tmp_path, f"mdl{uuid.uuid4().hex[:6]}", workspace)
    store = tmp_path / "state" / "models"
    try:
        stack.up()
        assert stack.outputs()["models"] == {"m:auto": "1"}
        assert versions(store) == {"1": "a"}
        stack.run("preview", "--expect-no-changes")

        weights.write_text("b")  # new content: the preview already names the next version
        steps = json.loads(stack.run("preview", "--json").stdout)["steps"]
        changed = {s["urn"].split("::")[-1]: s for s in steps if s["op"] != "same"}
        assert set(changed) == {"m-version", "m-pkg-image", "m-pkg-push"}
        assert "hashes.model_version" in changed["m-pkg-image"]["replaceReasons"]
        assert changed["m-version"]["op"] == "replace"
        assert {"content_hash", "version", "path"} <= set(changed["m-version"]["replaceReasons"])
        stack.up()
        assert stack.outputs()["models"] == {"m:auto": "2"}
        assert versions(store) == {"2": "b"}

        weights.write_text("a")  # back to the first content: registered again, as version 3
        stack.up()
        assert stack.outputs()["models"] == {"m:auto": "3"}
        assert versions(store) == {"3": "a"}
        stack.run("preview", "--expect-no-changes")

        (workspace / "model.yml").write_text("name: m\nversion: 7\npath: model\n")
        stack.up()
        assert stack.outputs()["models"] == {"m:7": "7"}
        assert versions(store) == {"7": "a"}
    finally:
        stack.destroy()
    assert not (store / "m").exists() or list((store / "m").iterdir()) == []
    prefix = f"modelpack/{stack.name}/"
    tags = [tag for image in docker.from_env().images.list() for tag in image.tags]
    assert [tag for tag in tags if tag.startswith(prefix)] == []
