"""An image pulled by digest from the workspace's registry into the local engine: how a
workspace deploys a package promoted into it (`modelpack promote`), without building."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker.errors
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from modelpack.image_registry import RegistrySpec, ensure_running, manifest_exists, parse_reference
from modelpack.providers.diff import diff_inputs, props_of
from modelpack.providers.progress import report

from .client import engine


class ImagePullError(Exception):
    pass


def _describe(reference: str) -> dict[str, Any]:
    attrs = engine().api.inspect_image(reference)
    return {"image_id": attrs["Id"], "labels": attrs["Config"].get("Labels") or {}}


class PulledImageProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        reference = props["reference"]
        parsed = parse_reference(reference)
        ensure_running(RegistrySpec.of(props["registry"]))
        if not manifest_exists(parsed.address, parsed.repository, parsed.digest):
            raise ImagePullError(
                f"{reference} is not in this workspace's registry; promote it first "
                "(`modelpack promote <package> --from <ws> --to <this ws>`)"
            )
        report(f"pulling {reference}")
        try:
            engine().api.pull(reference)
        except docker.errors.APIError as error:
            raise ImagePullError(f"pulling {reference} failed: {error.explanation}") from None
        return CreateResult(reference, {**props, **_describe(reference)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(PulledImageArgs, olds, news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            return ReadResult(id_, {**props, **_describe(props["reference"])})
        except docker.errors.ImageNotFound:
            return ReadResult(None, {})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # Only this reference goes: the image stays while other references (the source
        # workspace's tags, another workspace's pull) name it.
        try:
            engine().api.remove_image(props["reference"], noprune=False)
        except (docker.errors.ImageNotFound, docker.errors.APIError):
            pass


@dataclass
class PulledImageArgs:
    reference: pulumi.Input[str]
    """`127.0.0.1:<port>/<name>@sha256:...` in this workspace's registry."""
    registry: pulumi.Input[dict[str, Any]]


class PulledImage(Resource, module="docker", name="PulledImage"):
    image_id: pulumi.Output[str]
    labels: pulumi.Output[dict[str, str]]

    def __init__(
        self, resource_name: str, args: PulledImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = props_of(args, image_id=None, labels=None)
        super().__init__(PulledImageProvider(), resource_name, props, opts)
