"""A `pulumi preview` while an `up` of the same stack runs does not touch the build folders
the `up` builds from: both succeed, and the image the `up` built holds what the workspace says.

The package's code folder holds a few thousand files, so that rendering and sending its build
context take seconds: long enough for the preview's program to render the same package while
the up is still copying or sending it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import docker
import pytest

from modelpack.assets import load_asset_folder
from tests.support.deployed import deployed_workspace
from tests.support.process_output import Output
from tests.support.small_workspace import PACKAGE, SCORE, write_small_workspace

pytestmark = pytest.mark.real

FILES = 4000


def start(stack, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["pulumi", *args, "--stack", stack.name, "--non-interactive"],
        cwd=stack.project_dir,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_preview_during_an_up_leaves_the_ups_build_folders_alone(tmp_path: Path) -> None:
    workspace = write_small_workspace(tmp_path / "workspace")
    with deployed_workspace(tmp_path, "conc", workspace=workspace) as deployed:
        data = workspace / "src" / "data"
        data.mkdir()
        for index in range(FILES):
            (data / f"part-{index:05}.txt").write_text(f"row {index}\n" * 20)
        stack = deployed.stack

        up = Output(start(stack, "up", "--yes", "--skip-preview"))
        previews = [Output(start(stack, "preview", "--diff"))]
        # and one more as the up starts building the package from its folder
        assert up.wait_for(f"building image modelpack/{stack.name}/pkg/", timeout_s=600)
        previews.append(Output(start(stack, "preview", "--diff")))

        for name, process in [("up", up), *(("preview", p) for p in previews)]:
            code, output = process.finish()
            assert code == 0, f"{name} failed:\n{output[-4000:]}"

        package = load_asset_folder(workspace).package(PACKAGE)
        image = deployed.outputs()["packages"][PACKAGE]["image"]
        labels = docker.from_env().api.inspect_image(image)["Config"]["Labels"]
        assert labels["modelpack.code.hash"] == package.code_hash
        listing = docker.from_env().containers.run(
            image,
            ["sh", "-c", "ls /var/azureml-app/src/data | wc -l; cat /var/azureml-app/src/score.py"],
            entrypoint=[],
            remove=True,
            labels={"modelpack.stack": stack.name},
        )
        assert listing.decode() == f"{FILES}\n{SCORE}"
        stack.run("preview", "--expect-no-changes")
