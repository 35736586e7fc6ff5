"""A real `pulumi up` / `preview` / `destroy` of a tiny stack through the Docker engine."""

import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import docker
import pytest

from tests.support.pulumi_cli import Stack

PROJECT = Path(__file__).parent / "project"

pytestmark = pytest.mark.real


def smoke_containers(client: docker.DockerClient, stack: str) -> list:
    return client.containers.list(all=True, filters={"label": f"modelpack.stack={stack}"})


def test_up_preview_destroy_drives_a_real_container(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    name = f"smoke{uuid.uuid4().hex[:6]}"  # unique: it names the container and the network
    stack = Stack(project, tmp_path / "state", name)
    client = docker.from_env()
    stack.init()
    stack.set_config("greeting", "hello")
    try:
        up = stack.up()
        # The engine and plugins the tests use: the CLI built by the set-up step, and our
        # language host and dynamic-provider plugin, found on PATH (ambient plugins): the
        # console scripts of the installed package, in the virtualenv's bin/.
        assert subprocess.run(["pulumi", "version"], capture_output=True, text=True).stdout == (
            "v3.274.1\n"
        )
        venv_bin = Path(sys.executable).parent
        plugins = {
            "pulumi-language-python": "modelpack.language_host",
            "pulumi-resource-pulumi-python": "modelpack.dynamic_plugin",
        }
        for plugin, module in plugins.items():
            assert f"using {plugin} from $PATH at {venv_bin / plugin}" in up.stdout + up.stderr
            assert f"from {module} import main" in (venv_bin / plugin).read_text()
        outputs = stack.outputs()
        container = client.containers.get(outputs["container_id"])
        assert container.status == "running"
        assert "GREETING=hello" in container.attrs["Config"]["Env"]
        assert container.attrs["HostConfig"]["NanoCpus"] == 500_000_000
        assert container.attrs["HostConfig"]["Memory"] == 128 * 1024 * 1024
        port = outputs["host_ports"]["8000"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            assert answer.status == 200

        unchanged = stack.run("preview", "--diff", "--expect-no-changes")
        assert unchanged.returncode == 0

        stack.set_config("greeting", "bonjour")
        preview = stack.run("preview", "--diff")
        assert "replace" in preview.stdout
        assert '- GREETING: "hello"' in preview.stdout or "hello" in preview.stdout
        assert "bonjour" in preview.stdout
        assert client.containers.get(outputs["container_id"]).status == "running"
    finally:
        stack.destroy()
    assert smoke_containers(client, name) == []
    assert [n for n in client.networks.list() if n.name == f"smoke-{name}"] == []
