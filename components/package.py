"""ModelPackage: one image holding the model (copy mode), its scoring code, its environment
and the inference server we inject; or, for `custom` servers, the user's own server image
with the model placed where the spec says."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from builds import ContainerLayout, layout_for, render_package_context, server_version
from spec import PackageAsset, Route

from .docker_resources import Image, ImageArgs
from .environment import Environment
from .model import Model


@dataclass
class ModelPackageArgs:
    asset: PackageAsset
    model: Model
    environment: Environment | None
    """The environment image to build on; None for a custom server on a plain base image."""
    build_dir: Path
    image_prefix: str
    base_image: str | None = None
    """For custom servers: the server's image when there is no environment to build."""


class ModelPackage(pulumi.ComponentResource):
    image: pulumi.Output[str]
    """The package image id (sha256:...): a deployment runs exactly this image."""
    tag: str
    layout: ContainerLayout
    mode: str
    hashes: dict[str, str]

    def __init__(
        self, resource_name: str, args: ModelPackageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("modelpack:index:ModelPackage", resource_name, None, opts)
        asset = args.asset
        self.layout = layout_for(asset, args.model.version)
        self.mode = asset.mode
        self.server_type = asset.server_type
        config = asset.inference_configuration
        self.readiness_route = None
        if config is not None:
            self.readiness_route = config.readiness_route or Route(
                port=config.scoring_route.port, path="/"
            )
        environment_hash = asset.base_environment.content_hash if asset.base_environment else "none"

        def render(base_image: str) -> dict:
            context = render_package_context(
                asset,
                base_image,
                args.model.version,
                self.layout,
                args.build_dir,
                environment_hash=environment_hash,
            )
            return {"context": str(context.folder), "labels": context.labels}

        base = args.environment.image if args.environment is not None else args.base_image
        rendered = pulumi.Output.from_input(base).apply(render)
        # Known without building, so a preview names what changed inside the package.
        self.hashes = {
            key: value
            for key, value in {**asset.hashes, "environment": environment_hash}.items()
            if value is not None
        }
        self.hashes["model_version"] = args.model.version
        if asset.server_type == "azureml_online":
            self.hashes["server"] = server_version()
        self.tag = f"{args.image_prefix}:{asset.content_hash[:12]}"
        image = Image(
            f"{resource_name}-image",
            ImageArgs(
                tag=self.tag,
                context=rendered["context"],
                labels=rendered["labels"],
                hashes=self.hashes,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.image = image.image_id
        self.size_bytes = image.size_bytes
        self.register_outputs(
            {"image": self.image, "tag": self.tag, "hashes": self.hashes, "mode": self.mode}
        )
