"""assets/example loads and resolves: package -> environment -> model."""

from __future__ import annotations

import json
import re
from pathlib import Path

from asset_helpers import EXAMPLE

from modelpack.assets import load_asset_folder
from modelpack.assets.hashing import hash_path
from modelpack.assets.scripts import check_entry_script


def test_example_workspace_resolves(example: Path) -> None:
    workspace = load_asset_folder(example)

    assert [m.name for m in workspace.models] == ["sklearn-regression"]
    model = workspace.model("sklearn-regression")
    assert model.version is None and model.type == "custom_model"
    assert model.path == (example / "model").resolve()

    environment = workspace.environment("sklearn-regression-env")
    assert environment.image == "python:3.11-slim"
    assert environment.requirements.python == "3.11"
    pinned = dict(r.split("==") for r in environment.requirements.requirements)
    assert {"numpy", "scikit-learn", "scipy"} <= set(pinned)
    assert environment.requirements.pip is not None

    online = workspace.package("sklearn-regression-online-pkg")
    assert online.model is model  # the workspace's only model
    assert online.base_environment is environment
    assert online.server_type == "azureml_online"
    assert online.code_dir == (example / "src").resolve()
    assert online.entry_script == "score.py"
    assert online.mode == "readonly_mount"
    assert not online.implicit
    assert workspace.package("sklearn-regression-docker-pkg").mode == "copy"

    endpoint = workspace.endpoint("sklearn-regression-online")
    assert endpoint.auth_mode == "key"
    assert endpoint.traffic == {"blue": 80, "green": 20}

    blue = workspace.deployment("sklearn-regression-online", "blue")
    assert blue.package is online
    assert (blue.instance_type.name, blue.instance_type.vcpus) == ("Standard_DS3_v2", 4)
    assert blue.instance_count == 1

    green = workspace.deployment("sklearn-regression-online", "green")
    assert green.package.implicit and green.package_model
    assert green.package.model is model
    assert green.package.base_environment is environment
    assert green.package.entry_script == "score.py"
    assert green.instance_type.name == "Standard_F2s_v2"
    assert green.readiness_probe.initial_delay == 5
    assert green.readiness_probe.failure_threshold == 3  # Azure ML's default

    assert {p.name for p in workspace.packages} == {
        "sklearn-regression-online-pkg",
        "sklearn-regression-docker-pkg",
        "sklearn-regression-online-green-pkg",
    }
    assert workspace.skipped == [workspace.folder / "environment" / "conda.yaml"]


def test_example_hashes_follow_content(example: Path) -> None:
    package = load_asset_folder(example).package("sklearn-regression-online-pkg")
    assert package.hashes["model"] == hash_path(example / "model")
    before = dict(package.hashes)

    (example / "src" / "score.py").write_text(
        (example / "src" / "score.py").read_text() + "\n# changed\n"
    )
    after = load_asset_folder(example).package("sklearn-regression-online-pkg").hashes
    assert after["code"] != before["code"]
    assert after["model"] == before["model"]
    assert after["environment"] == before["environment"]


def test_example_files_are_as_documented() -> None:
    assert check_entry_script(EXAMPLE / "src" / "score.py") == []
    request = json.loads((EXAMPLE / "sample-request.json").read_text())
    assert len(request["data"]) == 2 and all(len(row) == 10 for row in request["data"])
    conda = (EXAMPLE / "environment" / "conda.yaml").read_text()
    assert re.search(r"python=3\.11\b", conda)
    for name in ("package-moe.yml", "package-azure-app.yml"):
        seed = Path(__file__).parent / "fixtures" / "seed" / name
        assert (EXAMPLE / name).read_text() == seed.read_text()
