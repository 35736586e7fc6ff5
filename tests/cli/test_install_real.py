"""The installable product: a copy of the checkout, a fresh virtualenv with a plain
`pip install .` (not editable) in it, and then, with only that virtualenv and the Pulumi CLI on
PATH, the installed `modelpack` command lists its verbs and deploys, calls and destroys a small
workspace from the copy. Pulumi runs the program with the package's own plugins
(`pulumi-language-python`, `pulumi-resource-pulumi-python`, console scripts of the package),
and the program imports `modelpack` from site-packages: the copy's own `modelpack/` source
is removed once installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelpack.image_registry import RegistrySpec
from tests.support.checkout import copy_checkout
from tests.support.deployed import leftovers, short_id
from tests.support.project import free_port
from tests.support.small_workspace import ENDPOINT, REQUEST, write_small_endpoint

pytestmark = pytest.mark.real

REPO = Path(__file__).resolve().parents[2]
VERBS = (
    "up",
    "preview",
    "destroy",
    "refresh",
    "invoke",
    "get-credentials",
    "keys",
    "logs",
    "list",
    "workspace",
    "promote",
    "preview-summary",
    "touched-workspaces",
)
PLUGINS = {
    "pulumi-language-python": "modelpack.language_host",
    "pulumi-resource-pulumi-python": "modelpack.dynamic_plugin",
}
# Top-level names that were once installed, or are the project's checkout: none may be.
NOT_INSTALLED = ("components", "spec", "cli", "inference", "router", "tests", "tools")


def product_env(venv: Path) -> dict[str, str]:
    """The caller's environment with only the new virtualenv and the Pulumi CLI on PATH: no
    repo virtualenv, no workspace or passphrase variables (the command picks its defaults)."""
    repo_venv = str(REPO / ".venv")
    path = [str(venv / "bin"), str(Path(os.environ["MODELPACK_CACHE"]) / "bin")]
    path += [
        entry
        for entry in os.environ["PATH"].split(os.pathsep)
        if entry and not entry.startswith(repo_venv) and entry not in path
    ]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MODELPACK_", "PULUMI_CONFIG_PASSPHRASE", "PYTHON"))
        and key not in ("PULUMI_BACKEND_URL", "VIRTUAL_ENV", "PATH")
    }
    return {**env, "PATH": os.pathsep.join(path)}


def run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess:
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    print(f"{' '.join(command)}: exit {result.returncode} in {time.monotonic() - started:.1f} s")
    return result


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def test_pip_install_then_modelpack_up_from_the_checkout(tmp_path: Path) -> None:
    checkout = copy_checkout(tmp_path / "checkout")
    venv = checkout / ".venv"  # where Pulumi.yaml's `virtualenv` option says
    env = product_env(venv)
    ok(run([sys.executable, "-m", "venv", str(venv)], tmp_path, env))
    ok(run([str(venv / "bin" / "pip"), "install", "--quiet", "."], checkout, env))
    # Pulumi runs the program with the checkout first on sys.path, where the package's source
    # would shadow the installed copy: without it, everything of modelpack that the command,
    # the program and its providers use comes from site-packages (code and package data).
    shutil.rmtree(checkout / "modelpack")

    # What got installed: the package with its data files, not the checkout.
    site = Path(
        ok(
            run(
                [str(venv / "bin" / "python"), "-c", "import modelpack; print(modelpack.__file__)"],
                tmp_path,
                env,
            )
        ).stdout.strip()
    ).parent.parent
    assert site.name == "site-packages", site
    assert (site / "modelpack" / "router" / "image" / "Dockerfile").is_file()
    assert (site / "modelpack" / "router" / "image" / "token.js").is_file()
    assert (site / "modelpack" / "inference_server" / "requirements.txt").is_file()
    for name in NOT_INSTALLED:
        assert not (site / name).exists() and not (site / f"{name}.py").exists(), name
    (record,) = site.glob("modelpack-*.dist-info")
    assert (
        not (record / "direct_url.json").exists()
        or '"editable": true' not in (record / "direct_url.json").read_text()
    )
    assert not list(site.glob("__editable__*")), "an editable install"
    for plugin, module in PLUGINS.items():
        assert f"from {module} import main" in (venv / "bin" / plugin).read_text()

    # `modelpack --help` lists the verbs.
    help_text = ok(run(["modelpack", "--help"], checkout, env)).stdout
    listed = re.findall(r"^    (\S+)", help_text, flags=re.MULTILINE)  # argparse's verb rows
    assert set(VERBS) <= set(listed), help_text

    # A workspace of the copied checkout, deploying a small asset folder.
    ws = f"inst{short_id()}"  # unique: it names containers, networks and images
    assets = write_small_endpoint(tmp_path / "assets")
    registry_port = free_port()
    (checkout / "stacks" / f"Pulumi.{ws}.yaml").write_text(
        "config:\n"
        f"  modelpack:assets: {assets}\n"
        '  modelpack:routerPort: "0"\n'
        f'  modelpack:registryPort: "{registry_port}"\n'
    )
    registry = RegistrySpec(checkout / ".state" / ws / "registry", registry_port)
    try:
        up = ok(run(["modelpack", "up", "-w", ws], checkout, env))
        for plugin in PLUGINS:
            assert f"using {plugin} from $PATH at {venv / 'bin' / plugin}" in up.stdout + up.stderr
        # Its own backend and a generated passphrase, in the copy's .state.
        assert (checkout / ".state" / ws / "backend").is_dir()
        assert (checkout / ".state" / ws / "passphrase").is_file()

        answer = ok(
            run(
                [
                    "modelpack",
                    "invoke",
                    "-w",
                    ws,
                    "-n",
                    ENDPOINT,
                    "-r",
                    str(assets / "request.json"),
                ],
                checkout,
                env,
            )
        )
        assert json.loads(answer.stdout) == REQUEST  # score.py's run() returns the body
        assert "served by deployment: blue" in answer.stderr
    finally:
        destroy = run(["modelpack", "destroy", "-w", ws, "--remove-stack"], checkout, env)
    ok(destroy)
    left = leftovers(ws, registry)
    assert not any(left.values()), f"left behind by {ws}: {left}"
    backend = (checkout / ".state" / ws / "backend").as_uri()
    stacks = ok(
        run(["pulumi", "stack", "ls", "--json"], checkout, {**env, "PULUMI_BACKEND_URL": backend})
    )
    assert json.loads(stacks.stdout) == []  # --remove-stack: the stack is gone too
