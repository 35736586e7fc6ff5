"""`model package`: build one package and push it to the workspace's registry, deploying
nothing.

The program declares the whole workspace, so a plain `up` would also roll deployments and
apply any other change waiting in the YAML. Instead the package is built with `pulumi up
--target`: a preview names every resource the package's image needs (its ModelPackage
component and children, and what they depend on: the model's registration, the environment
image, the registry), and only those are targeted. Untargeted resources keep their state, so no
deployment, router or traffic changes; the stack's `packages` output then carries the pushed
digest."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from modelpack import names
from modelpack.image_registry import manifest_exists, parse_reference

from .errors import CliError
from .pulumi_runner import PulumiRunner

STACK_TYPE = "pulumi:pulumi:Stack"


def package_urn(stack: str, project: str, package: str) -> str:
    """A package's component is declared at the top of the stack, named by the package."""
    return f"urn:pulumi:{stack}::{project}::{names.MODEL_PACKAGE}::{package}"


def _links(state: dict[str, Any]) -> Iterable[str]:
    yield from state.get("dependencies") or []
    for urns in (state.get("propertyDependencies") or {}).values():
        yield from urns
    if state.get("parent"):
        yield state["parent"]


def targets_for(preview: dict[str, Any], root: str) -> list[str]:
    """The URNs an `up` of `root` must target: `root`, every resource under it, and every
    resource those depend on (with their own children and dependencies), among the steps of
    a `pulumi preview --json`. Unchanged resources need no targeting."""
    states = {}
    for step in preview.get("steps") or []:
        state = step.get("newState") or {}
        urn = step.get("urn") or state.get("urn")
        if urn and state:
            states[urn] = state
    wanted = {root}
    grown = True
    while grown:
        grown = False
        for urn, state in states.items():
            if urn in wanted or state.get("parent") in wanted:
                for linked in [urn, *_links(state)]:
                    if linked not in wanted and not _implicit(linked):
                        wanted.add(linked)
                        grown = True
    return sorted(wanted)


def _implicit(urn: str) -> bool:
    """The stack and providers: Pulumi includes them in every targeted run."""
    return f"::{STACK_TYPE}::" in urn or "::pulumi:providers:" in urn


@dataclass(frozen=True)
class BuiltPackage:
    name: str
    image: str
    """`127.0.0.1:<port>/<name>@sha256:...` in the workspace's registry."""
    digest: str
    tag: str
    image_id: str
    hashes: dict[str, str]
    model: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target_environment": self.name,
            "image": self.image,
            "digest": self.digest,
            "tag": self.tag,
            "image_id": self.image_id,
            "model": self.model,
            "hashes": self.hashes,
        }


def project_name(runner: PulumiRunner) -> str:
    project = yaml.safe_load((runner.workspace.project_dir / "Pulumi.yaml").read_text())
    return str(project["name"])


def build_package(runner: PulumiRunner, package: str, model: str) -> BuiltPackage:
    runner.out = sys.stderr  # pulumi's progress; stdout carries the verb's result
    code, preview = runner.preview_json()
    if code != 0:
        problems = [
            d.get("message", "").strip()
            for d in preview.get("diagnostics") or []
            if d.get("severity") == "error"
        ]
        raise CliError(
            f"pulumi preview of workspace '{runner.ws}' failed, so no package was built:\n"
            + "\n".join(p for p in problems if p),
            f"fix it, then run the command again (`modelpack preview -w {runner.ws}` shows it)",
        )
    root = package_urn(runner.ws, project_name(runner), package)
    targets = targets_for(preview, root)
    flags = [flag for urn in targets for flag in ("--target", urn)]
    runner.lifecycle("up", flags)
    entry = (runner.outputs().get("packages") or {}).get(package)
    if not entry or not entry.get("digest"):
        raise CliError(
            f"the stack outputs of workspace '{runner.ws}' name no image for package '{package}' "
            "after the up",
            f"run `modelpack up -w {runner.ws}`",
        )
    reference = parse_reference(entry["digest"])
    if not manifest_exists(reference.address, reference.repository, reference.digest):
        raise CliError(
            f"{entry['digest']} is not in the workspace's registry after the up",
            f"run `modelpack up -w {runner.ws}` (it starts the registry and pushes again)",
        )
    return BuiltPackage(
        name=package,
        image=entry["digest"],
        digest=reference.digest,
        tag=entry.get("tag", ""),
        image_id=entry.get("image", ""),
        hashes=entry.get("hashes") or {},
        model=model,
    )
