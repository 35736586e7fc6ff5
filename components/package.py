"""ModelPackage: one image holding the model (copy mode), its scoring code, its environment
and the inference server we inject; or, for `custom` servers, the user's own server image
with the model placed where the spec says. The image is pushed to the workspace's registry and
deployed by digest.

A package promoted into this workspace (`modelpack promote`, recorded in the stack config
`modelpack:promoted`) is not built at all: its digest is pulled from this workspace's registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from modelpack import names
from modelpack.assets import PackageAsset, Route
from modelpack.builds import ContainerLayout, layout_for, render_package_context, server_version
from modelpack.image_registry import repository_name
from modelpack.providers.image_registry import Registry
from modelpack.targets import Target
from modelpack.targets.base import ImageBuild, ImagePush

from .environment import Environment
from .model import Model

# A promoted copy-mode image carries its model and its AZUREML_MODEL_DIR; the deployment only
# needs the layout's port, so the model version in the layout is a placeholder.
PROMOTED_MODEL_VERSION = "promoted"
LABEL_HASHES = {
    "model": names.IMAGE_MODEL_HASH,
    "code": names.IMAGE_CODE_HASH,
    "environment": names.IMAGE_ENVIRONMENT_HASH,
    "model_version": names.IMAGE_MODEL_VERSION,
    "server": names.IMAGE_SERVER_VERSION,
}


@dataclass
class ModelPackageArgs:
    asset: PackageAsset
    model: Model | None
    """None for a promoted package (nothing of the model is registered or built here)."""
    environment: Environment | None
    """The environment image to build on; None for a custom server on a plain base image, and
    for a promoted package."""
    build_dir: Path
    image_prefix: str
    registry: Registry
    """The workspace's registry: built images are pushed there, promoted ones pulled from it."""
    target: Target
    base_image: str | None = None
    """For custom servers: the server's image when there is no environment to build."""
    promoted: str | None = None
    """The digest reference to deploy instead of building (`modelpack:promoted`)."""


def hashes_from_labels(labels: dict[str, str]) -> dict[str, str]:
    """What a package image says it holds (its build labels), as ModelPackage.hashes."""
    return {key: labels[label] for key, label in LABEL_HASHES.items() if labels.get(label)}


class ModelPackage(pulumi.ComponentResource):
    image_id: pulumi.Output[str]
    """The package image id (sha256:...)."""
    digest: pulumi.Output[str]
    """`127.0.0.1:<port>/<name>@sha256:...` in the workspace's registry: what a deployment
    runs, one reference naming exactly one image."""
    tag: str
    layout: ContainerLayout
    mode: str
    promoted: bool
    hashes: dict[str, str] | pulumi.Output[dict[str, str]]

    def __init__(
        self, resource_name: str, args: ModelPackageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(names.MODEL_PACKAGE, resource_name, None, opts)
        asset = args.asset
        self.mode = asset.mode
        self.server_type = asset.server_type
        self.promoted = args.promoted is not None
        config = asset.inference_configuration
        self.readiness_route = self.liveness_route = None
        if config is not None:
            self.readiness_route = config.readiness_route or Route(
                port=config.scoring_route.port, path="/"
            )
            self.liveness_route = config.liveness_route
        if args.promoted is not None:
            self._pull(resource_name, args, args.promoted)
        else:
            self._build(resource_name, args)
        self.register_outputs(
            {
                "image": self.image_id,
                "digest": self.digest,
                "tag": self.tag,
                "hashes": self.hashes,
                "mode": self.mode,
            }
        )

    def _build(self, resource_name: str, args: ModelPackageArgs) -> None:
        """Build the image from the workspace's assets and push it to the registry."""
        asset = args.asset
        assert args.model is not None
        self.layout = layout_for(asset, args.model.version)
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
            return {
                "context": str(context.folder),
                "labels": context.labels,
                "build_args": context.build_args,
            }

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
        child = pulumi.ResourceOptions(parent=self)
        image = args.target.image(
            f"{resource_name}-image",
            ImageBuild(
                tag=self.tag,
                context=rendered["context"],
                build_args=rendered["build_args"],
                labels=rendered["labels"],
                hashes=self.hashes,
            ),
            child,
        )
        repository = repository_name(asset.name)
        self.digest = args.target.push(
            f"{resource_name}-push",
            ImagePush(
                image_id=image.image_id,
                repository=pulumi.Output.concat(args.registry.known_address, "/", repository),
                tag=asset.content_hash[:12],
                registry=args.registry.spec,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[args.registry]),
        )
        self.image_id = image.image_id
        self.size_bytes = image.size_bytes

    def _pull(self, resource_name: str, args: ModelPackageArgs, reference: str) -> None:
        """Deploy the promoted image: no model, no environment, no build; a pull by digest
        from this workspace's registry."""
        asset = args.asset
        self.layout = layout_for(asset, PROMOTED_MODEL_VERSION)
        self.tag = reference
        pulled = args.target.pull(
            f"{resource_name}-promoted",
            reference,
            args.registry.spec,
            pulumi.ResourceOptions(parent=self, depends_on=[args.registry]),
        )
        self.image_id = pulled.image_id
        self.digest = pulled.reference
        self.hashes = pulled.labels.apply(hashes_from_labels)

        def compare(labels: dict[str, str]) -> None:
            inside = hashes_from_labels(labels or {})
            differ = sorted(
                key
                for key, value in asset.hashes.items()
                if value is not None and key in inside and inside[key] != value
            )
            if differ:
                pulumi.log.warn(
                    f"package {asset.name}: this workspace folder's {', '.join(differ)} differ "
                    f"from the promoted image {reference}; the promoted image is what is "
                    "deployed (promote again to deploy a newer build)",
                    resource=self,
                )

        pulled.labels.apply(compare)
