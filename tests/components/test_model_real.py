"""Model versions through the real path: a model registered into the stack's model store
(`<stateDir>/models/<name>/<version>`) by `pulumi up`. Models are registered for the packages
that use them, so the workspace holds the lightest package there is: a custom server on the
base image with the model mounted (nothing to install, nothing copied)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.deployed import deployed_workspace, image_tags
from tests.support.project import copy_example_assets, modelpack_stack

pytestmark = pytest.mark.real


def versions(store: Path) -> dict[str, str]:
    """version -> the content of the registered model file."""
    return {
        folder.name: (folder / "model" / "weights.txt").read_text()
        for folder in sorted((store / "m").iterdir())
        if not folder.name.startswith(".")  # the registrations' claims
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
    tags = image_tags()
    assert [tag for tag in tags if tag.startswith(prefix)] == []


def test_pinning_the_served_model_version_keeps_its_folder(tmp_path: Path) -> None:
    """Pinning `version: 1` renames the model's resource; the old registration's delete must
    leave the folder that the new registration (and blue's readonly_mount replica) use."""
    workspace = copy_example_assets(tmp_path / "workspace")
    with deployed_workspace(tmp_path, "pin", workspace) as deployed:
        version_dir = deployed.state_dir / "models" / "sklearn-regression" / "1"
        model_file = version_dir / "model" / "sklearn_regression_model.pkl"
        assert model_file.is_file()

        model_yml = workspace / "model.yml"
        model_yml.write_text(model_yml.read_text() + "version: 1\n")
        deployed.up()
        assert deployed.outputs()["models"] == {"sklearn-regression:1": "1"}
        assert model_file.is_file()

        replicas = docker.from_env().containers.list(
            filters={"label": [f"modelpack.stack={deployed.name}", "modelpack.role=replica"]}
        )
        assert {r.labels["modelpack.deployment"] for r in replicas} == {"blue", "green"}
        for replica in replicas:
            replica.restart(timeout=5)
        endpoint = deployed.endpoint()
        body = (workspace / "sample-request.json").read_bytes()
        for name in ("blue", "green"):
            headers = {
                "authorization": f"Bearer {endpoint.keys.primary}",
                "content-type": "application/json",
                "azureml-model-deployment": name,
            }
            assert answers_within(endpoint.scoring_uri, body, headers, 60), name


def answers_within(url: str, body: bytes, headers: dict[str, str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.post(url, content=body, headers=headers, timeout=5).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False
