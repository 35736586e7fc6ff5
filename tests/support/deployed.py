"""Deployed throw-away workspaces for the real tests of registries, promotion and previews.

`deployed_workspace` ups a stack of a copy of the project (its own backend, state folder,
registry port and, with routerPort 0, router port) and destroys it afterwards, checking that
nothing of it is left: containers, networks, images tagged for the stack or its registry, the
registry process. `portable_dev` is one such workspace for the whole test session (the example
with blue and green both deploying the copy-mode package), shared by the tests that need a
deployed source workspace: each of its ups costs a first push of the environment's layers
into a new registry (about 20 s here).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from modelpack.cli.outputs import load_outputs
from modelpack.cli.pulumi_runner import PulumiRunner
from modelpack.cli.workspaces import Workspace
from modelpack.image_registry import RegistrySpec, running_pids, stop

from .project import copy_portable_assets, free_port, modelpack_stack
from .pulumi_cli import PASSPHRASE, Stack

ENDPOINT = "sklearn-regression-online"


@dataclass
class DeployedWorkspace:
    root: Path
    workspace: Path
    """The asset folder the stack deploys."""
    stack: Stack
    registry_port: int
    upped: bool = False

    def up(self) -> None:
        self.stack.up()
        self.upped = True

    @property
    def name(self) -> str:
        return self.stack.name

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def registry(self) -> RegistrySpec:
        return RegistrySpec(self.state_dir / "registry", self.registry_port)

    def runner(self) -> PulumiRunner:
        """A cli runner for this stack (as `modelpack --workspace <name>` would be)."""
        workspace = Workspace(
            name=self.name,
            project_dir=self.stack.project_dir,
            backend_url=self.stack.backend_dir.as_uri(),
            backend_source="test",
            state_dir=self.state_dir,
        )
        return PulumiRunner(workspace, {**os.environ, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})

    def outputs(self) -> dict:
        return self.stack.outputs()

    def endpoint(self):
        return load_outputs(self.runner(), show_secrets=True).endpoint(ENDPOINT)

    def preview(self) -> dict:
        """`pulumi preview --diff --json` of the stack as it is now."""
        return json.loads(self.stack.run("preview", "--diff", "--json").stdout)

    def replica(self, deployment: str):
        """The container of replica 0 of `deployment`."""
        (container,) = docker.from_env().containers.list(
            filters={
                "label": [
                    f"modelpack.stack={self.name}",
                    f"modelpack.deployment={deployment}",
                    "modelpack.replica=0",
                ]
            }
        )
        return container


def image_tags() -> list[str]:
    """Every image tag the engine holds, in one listing call (`images.list()` inspects each
    image after listing, which fails when another stack removes one in between)."""
    images = docker.from_env().api.images()
    return [tag for image in images for tag in image.get("RepoTags") or []]


def leftovers(name: str, registry: RegistrySpec) -> dict[str, list]:
    """Everything of stack `name` still on the machine ({} entries empty when clean)."""
    client = docker.from_env()
    tags = image_tags()
    return {
        "containers": client.containers.list(
            all=True, filters={"label": f"modelpack.stack={name}"}
        ),
        "networks": client.networks.list(names=[f"mp-{name}-"]),
        "images": [
            tag
            for tag in tags
            if tag.startswith(f"modelpack/{name}/") or tag.startswith(f"127.0.0.1:{registry.port}/")
        ],
        "registry processes": running_pids(registry),
    }


def short_id() -> str:
    return uuid.uuid4().hex[:6]


@contextlib.contextmanager
def deployed_workspace(
    root: Path, prefix: str, workspace: Path | None = None, up: bool = True, **config: str
) -> Iterator[DeployedWorkspace]:
    """A stack `<prefix><id>` deploying `workspace` (default: a new portable copy of the
    example), upped unless `up` is false (then call `.up()`); destroyed and checked for
    leftovers on exit."""
    workspace = workspace or copy_portable_assets(root / "workspace")
    port = free_port()
    stack = modelpack_stack(
        root, f"{prefix}{short_id()}", workspace, **{"modelpack:registryPort": str(port)}, **config
    )
    deployed = DeployedWorkspace(root, workspace, stack, port)
    try:
        if up:
            deployed.up()
        yield deployed
    finally:
        stack.destroy()
        if not deployed.upped:
            stop(deployed.registry)  # started by `promote` alone: no stack resource owns it
        left = leftovers(stack.name, deployed.registry)
        assert not any(left.values()), f"left behind by {stack.name}: {left}"


@pytest.fixture(scope="session")
def portable_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    """A deployed source workspace for the whole session (see the module docstring)."""
    with deployed_workspace(tmp_path_factory.mktemp("portable-dev"), "dev") as deployed:
        yield deployed
