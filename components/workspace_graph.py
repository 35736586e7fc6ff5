"""The whole dependency graph of one workspace: its registry, models, environments, packages
(and, once deployed, endpoints and deployments), each a component parented to nothing but the
stack.

Models and environments are declared lazily, by the packages built on them: a package promoted
into the workspace (`modelpack:promoted`) is pulled by digest, so the model and environment
only it needed are not registered or built here."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from modelpack.assets import AssetFolder, EnvironmentAsset, ModelAsset, PackageAsset
from modelpack.providers.image_registry import Registry, RegistryArgs
from modelpack.targets import Target, load_target

from .deployment import Deployment, DeploymentArgs, check_deployments
from .endpoint import Endpoint, EndpointArgs
from .environment import Environment, EnvironmentArgs, check_environments
from .model import Model, ModelArgs
from .package import ModelPackage, ModelPackageArgs
from .promotion import check_promotions
from .settings import StackSettings
from .traffic import Traffic, TrafficArgs


def _key(asset: ModelAsset | EnvironmentAsset) -> str:
    return f"{asset.name}:{asset.version or 'auto'}"


@dataclass
class WorkspaceGraph:
    settings: StackSettings
    target: Target
    registry: Registry
    models: dict[str, Model] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)
    packages: dict[str, ModelPackage] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    deployments: dict[str, dict[str, Deployment]] = field(default_factory=dict)
    traffic: dict[str, Traffic] = field(default_factory=dict)

    def model(self, asset: ModelAsset) -> Model:
        key = _key(asset)
        if key not in self.models:
            name = asset.name if asset.version is None else f"{asset.name}-v{asset.version}"
            self.models[key] = Model(name, ModelArgs(asset, self.settings.model_store))
        return self.models[key]

    def environment_for(self, package: PackageAsset) -> Environment | None:
        asset = package.base_environment
        if package.server_type == "custom":
            return None  # the custom server's own image is the base
        if asset is None:  # an MLflow model brings its own environment
            key = f"mlflow:{package.model.name}:{package.model.content_hash[:12]}"
            name = f"{package.model.name}-mlflow-env"
            mlflow = package.model.mlflow_environment
        else:
            key, name, mlflow = _key(asset), asset.name, None
            if asset.version is not None:
                name = f"{asset.name}-v{asset.version}"
        if key not in self.environments:
            self.environments[key] = Environment(
                name,
                EnvironmentArgs(
                    asset=asset,
                    build_dir=self.settings.build_dir / "environments" / name,
                    image_prefix=self.settings.image_prefix("env", name),
                    target=self.target,
                    mlflow=mlflow,
                ),
            )
        return self.environments[key]

    def package(self, asset: PackageAsset) -> ModelPackage:
        if asset.name not in self.packages:
            promoted = self.settings.promoted.get(asset.name)
            built = promoted is None
            self.packages[asset.name] = ModelPackage(
                asset.name,
                ModelPackageArgs(
                    asset=asset,
                    model=self.model(asset.model) if built else None,
                    environment=self.environment_for(asset) if built else None,
                    build_dir=self.settings.build_dir / "packages" / asset.name,
                    image_prefix=self.settings.image_prefix("pkg", asset.name),
                    registry=self.registry,
                    target=self.target,
                    base_image=asset.base_environment.image if asset.base_environment else None,
                    promoted=promoted,
                ),
            )
        return self.packages[asset.name]

    def mounted_model(self, package: ModelPackage, asset: PackageAsset) -> Model | None:
        """The registered model a deployment mounts: only readonly_mount packages have one."""
        return self.model(asset.model) if package.mode == "readonly_mount" else None


def build_graph(assets: AssetFolder, settings: StackSettings) -> WorkspaceGraph:
    """Declare every resource of the workspace from its asset folder. Raises before declaring
    anything when the assets or the promoted table cannot be deployed."""
    for warning in check_promotions(assets.packages, settings.promoted, settings.registry_port):
        pulumi.log.warn(warning)
    target = load_target(settings.target)
    check_environments(assets, target, skip=set(settings.promoted))
    check_deployments(assets, target)
    graph = WorkspaceGraph(
        settings,
        target,
        Registry("registry", RegistryArgs(str(settings.registry_dir), settings.registry_port)),
    )
    for package in assets.packages:
        graph.package(package)
    for index, endpoint_asset in enumerate(sorted(assets.endpoints, key=lambda e: e.name)):
        endpoint = Endpoint(
            endpoint_asset.name,
            EndpointArgs(
                asset=endpoint_asset,
                stack=settings.stack,
                state_dir=settings.state_dir,
                target=target,
                router_port=settings.router_port,
                # Only taken when the endpoint is created and no other endpoint has it: the
                # endpoints of a first `up` count up from routerPort in name order.
                preferred_port=settings.router_port + index if settings.router_port else 0,
                labels=settings.labels,
                key_generations=settings.key_generations(endpoint_asset.name),
                registry=graph.registry,
                isolated=any(
                    not asset.egress for asset in assets.deployments_of(endpoint_asset.name)
                ),
            ),
        )
        graph.endpoints[endpoint_asset.name] = endpoint
        deployments = {}
        for asset in assets.deployments_of(endpoint_asset.name):
            package = graph.package(asset.package)
            deployments[asset.name] = Deployment(
                f"{endpoint_asset.name}-{asset.name}",
                DeploymentArgs(
                    asset=asset,
                    package=package,
                    model=graph.mounted_model(package, asset.package),
                    endpoint=endpoint,
                    stack=settings.stack,
                    labels=settings.labels,
                    target=target,
                    data_store=settings.data_store,
                ),
            )
        graph.deployments[endpoint_asset.name] = deployments
        graph.traffic[endpoint_asset.name] = Traffic(
            f"{endpoint_asset.name}-traffic",
            TrafficArgs(
                asset=endpoint_asset,
                endpoint=endpoint,
                deployments=list(deployments.values()),
                target=target,
                max_body_bytes=settings.max_body_bytes,
                max_token_lifetime_s=settings.max_token_lifetime_s,
            ),
        )
    return graph
