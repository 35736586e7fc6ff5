"""A throw-away copy of the modelpack Pulumi project, with its own backend and state folder,
so that tests deploy real stacks side by side without touching the repo's stacks/ or .state/."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from .pulumi_cli import Stack

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_ASSETS = REPO / "assets" / "example"


def copy_example_assets(destination: Path) -> Path:
    """The example workspace with a trained model (trained once per machine, then copied)."""
    model = EXAMPLE_ASSETS / "model" / "sklearn_regression_model.pkl"
    if not model.exists():
        import runpy

        runpy.run_path(str(EXAMPLE_ASSETS / "train.py"), run_name="__main__")
    shutil.copytree(EXAMPLE_ASSETS, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


PORTABLE_PACKAGE = "sklearn-regression-docker-pkg"  # package-azure-app.yml: model copied in
DEPLOYMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: {name}
endpoint_name: sklearn-regression-online
environment: azureml:{package}@latest
instance_type: Standard_F2s_v2
instance_count: 1
"""


def copy_portable_assets(destination: Path) -> Path:
    """The example workspace with blue and green both deploying the copy-mode package (the one
    that can be promoted), and no readonly_mount package: one package image to build."""
    workspace = copy_example_assets(destination)
    (workspace / "package-moe.yml").unlink()
    for name in ("blue", "green"):
        text = DEPLOYMENT.format(name=name, package=PORTABLE_PACKAGE)
        (workspace / f"{name}.yml").write_text(text)
    return workspace


def free_port() -> int:
    """A loopback port nothing listens on now (for a test stack's registry)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def modelpack_stack(root: Path, name: str, workspace: Path, **config: str) -> Stack:
    """Initialise stack `name` of a copy of the project under `root`, deploying `workspace`.

    Stack names must be unique across tests running at the same time: they name the
    containers, networks and images of the stack."""
    project = root / "project"
    project.mkdir(parents=True)
    # The Pulumi program is __main__.py and the components beside it (not installed).
    shutil.copy(REPO / "__main__.py", project / "__main__.py")
    (project / "components").symlink_to(REPO / "components")
    (project / "Pulumi.yaml").write_text("name: modelpack\nruntime:\n  name: python\n")
    stack = Stack(project, root / "backend", name)
    stack.init()
    settings = {
        "modelpack:assets": str(workspace),
        "modelpack:stateDir": str(root / "state"),
        "modelpack:routerPort": "0",
        **config,
    }
    for key, value in settings.items():
        stack.set_config(key, value)
    return stack
