"""Symbolic links inside a model or code folder are kept as links: in the package image (copy
mode) and in the model store a readonly_mount replica mounts. Links that leave their folder
are refused before anything is created (cases of test_bad_input_real.py's corpus)."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import pytest

from tests.support.deployed import deployed_workspace
from tests.support.small_workspace import PACKAGE, write_small_workspace

pytestmark = pytest.mark.real

MOUNTED = "mounted-pkg"
MOUNTED_PACKAGE = f"""\
$schema: http://azureml/sdk-2-0/ModelVersionPackage.json
target_environment_name: {MOUNTED}
base_environment_source:
  type: environment_asset
  resource_id: azureml:plain-env@latest
inferencing_server:
  type: azureml_online
  code_configuration:
    code: src
    entry_script: score.py
"""


def test_links_inside_model_and_code_folders_stay_links(tmp_path: Path) -> None:
    workspace = write_small_workspace(tmp_path / "workspace")
    (workspace / "package-mounted.yml").write_text(MOUNTED_PACKAGE)
    (workspace / "model" / "latest.json").symlink_to("weights.json")
    (workspace / "model" / "nested").mkdir()
    (workspace / "model" / "nested" / "up.json").symlink_to("../weights.json")
    (workspace / "src" / "score_alias.py").symlink_to("score.py")

    with deployed_workspace(tmp_path, "links", workspace=workspace) as deployed:
        image = deployed.outputs()["packages"][PACKAGE]["image"]
        model = "/var/azureml-app/azureml-models/small/1/model"
        script = (
            f"readlink {model}/latest.json {model}/nested/up.json "
            "/var/azureml-app/src/score_alias.py; "
            f"cat {model}/nested/up.json"
        )
        output = docker.from_env().containers.run(
            image,
            ["sh", "-c", script],
            entrypoint=[],
            remove=True,
            labels={"modelpack.stack": deployed.name},
        )
        assert output.decode() == 'weights.json\n../weights.json\nscore.py\n{"w": 1}\n'

        store = deployed.state_dir / "models" / "small" / "1" / "model"
        assert os.readlink(store / "latest.json") == "weights.json"
        assert os.readlink(store / "nested" / "up.json") == "../weights.json"
