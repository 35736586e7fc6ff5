"""An image pushed from the local engine into the workspace's registry.

The output `repo_digest` (`127.0.0.1:<port>/<name>@sha256:...`) is what deployments run: one
reference that names exactly one image, here and in any workspace it is promoted to. The
registry tag (`<name>:<tag>`) is kept in the local engine while this resource exists, which
keeps the engine's digest reference resolvable without a pull.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from modelpack.image_registry import RegistrySpec, ensure_running, manifest_exists
from modelpack.providers.diff import diff_inputs, props_of
from modelpack.providers.progress import report

from .client import engine, untag


class ImagePushError(Exception):
    pass


@contextlib.contextmanager
def one_push_at_a_time(spec: RegistrySpec) -> Iterator[None]:
    """Packages built on one environment share its layers: pushed together, each push
    compresses and uploads them again (three example packages took 80 s instead of 30); one
    after the other, the later pushes find the layers in the registry and skip them."""
    spec.root.mkdir(parents=True, exist_ok=True)
    with open(spec.root / "push.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def push(props: dict[str, Any]) -> str:
    """Tag the image for the registry and push it; returns the manifest digest."""
    repository, tag = props["repository"], props["tag"]
    api = engine().api
    api.tag(props["image_id"], repository, tag)
    with one_push_at_a_time(RegistrySpec.of(props["registry"])):
        started = time.monotonic()
        report(f"pushing {repository}:{tag}")
        digest = _push(api, repository, tag)
    report(f"pushed {repository}@{digest[:19]} in {time.monotonic() - started:.1f} s")
    return digest


def _push(api: Any, repository: str, tag: str) -> str:
    digest = None
    for chunk in api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in chunk:
            raise ImagePushError(f"pushing {repository}:{tag} failed: {chunk['error'].strip()}")
        aux = chunk.get("aux") or {}
        if aux.get("Digest"):
            digest = aux["Digest"]
    if digest is None:
        raise ImagePushError(f"pushing {repository}:{tag} reported no digest")
    return digest


class RegistryImageProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        ensure_running(RegistrySpec.of(props["registry"]))
        digest = push(props)
        outputs = {"digest": digest, "repo_digest": f"{props['repository']}@{digest}"}
        return CreateResult(outputs["repo_digest"], {**props, **outputs})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(RegistryImageArgs, olds, news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        address, repository = props["repository"].split("/", 1)
        if manifest_exists(address, repository, props["digest"]) is False:
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # The registry keeps the image (a promoted or rolled-back digest stays resolvable);
        # only the local registry tag goes, and only while it still names this image.
        untag(f"{props['repository']}:{props['tag']}", props["image_id"], prune=False)


@dataclass
class RegistryImageArgs:
    image_id: pulumi.Input[str]
    repository: pulumi.Input[str]
    """`127.0.0.1:<port>/<name>`."""
    tag: pulumi.Input[str]
    registry: pulumi.Input[dict[str, Any]]
    """`{"root", "port"}` of the registry (modelpack.providers.image_registry.Registry.spec)."""


class RegistryImage(Resource, module="docker", name="RegistryImage"):
    digest: pulumi.Output[str]
    repo_digest: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: RegistryImageArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = props_of(args, digest=None, repo_digest=None)
        super().__init__(RegistryImageProvider(), resource_name, props, opts)
