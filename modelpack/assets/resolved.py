"""The loaded, checked and cross-referenced assets of a workspace.

These are what the provisioning layer consumes: every reference is resolved to the asset
object it names, every path is absolute, and every input that decides an image's content
has a content hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .conda import PipRequirements
from .data_collector import DataCollector
from .deployment import (
    BatchingSettings,
    ManagedOnlineDeployment,
    ProbeSettings,
    RequestSettings,
    ScaleSettings,
)
from .endpoint import OnlineEndpoint
from .environment import Environment
from .hashing import hash_data, hash_path, hash_tree
from .instance_types import InstanceType
from .mlflow_env import MlflowEnvironment
from .model import Model, ModelType
from .package import ModelMode, ModelPackage, OnlineInferenceConfiguration, ServerType
from .resources import ResourceSettings


@dataclass(frozen=True, eq=False)
class ModelAsset:
    """A model: `path` (absolute) is the registered file or folder. `version` is the one
    written in the YAML file, or None when it is assigned automatically from
    `content_hash` (see `spec.versions.next_version`)."""

    name: str
    version: str | None
    type: ModelType
    path: Path
    file: Path
    spec: Model
    inline: bool = False
    mlflow_environment: MlflowEnvironment | None = None
    """An MLflow model's own environment (from its MLmodel), the one it is served in when
    no environment is given."""

    @cached_property
    def content_hash(self) -> str:
        """sha256 of the model's files, including the file or folder name."""
        return hash_path(self.path)


@dataclass(frozen=True, eq=False)
class EnvironmentAsset:
    """A base image plus pip requirements (translated from the conda file, or read from the
    pip requirements file). `requirements.python` is the Python version the conda file asks
    for, if any."""

    name: str
    version: str | None
    image: str
    file: Path
    spec: Environment
    conda_file: Path | None = None
    pip_requirements_file: Path | None = None
    requirements: PipRequirements = field(default_factory=PipRequirements)
    inline: bool = False

    @cached_property
    def content_hash(self) -> str:
        """sha256 of what decides the environment: image and requirements."""
        return hash_data(
            {
                "image": self.image,
                "python": self.requirements.python,
                "pip": self.requirements.pip,
                "requirements": self.requirements.requirements,
            }
        )


@dataclass(frozen=True, eq=False)
class PackageAsset:
    """A model package: `model` + `base_environment` + a server, built into one image
    published under `name` (and `version`, None for automatic).

    `implicit` packages are not written by the user: they come from deployments that give
    model + code_configuration + environment (`deployment` names which one).
    For ``azureml_online`` servers, `code_dir` is the absolute code folder and
    `entry_script` the script's path relative to it (posix).
    """

    name: str
    version: str | None
    file: Path
    model: ModelAsset
    base_environment: EnvironmentAsset | None
    server_type: ServerType
    code_dir: Path | None
    entry_script: str | None
    inference_configuration: OnlineInferenceConfiguration | None
    mode: ModelMode
    mount_path: str | None
    environment_variables: dict[str, str]
    spec: ModelPackage | None = None
    implicit: bool = False
    deployment: str | None = None

    @cached_property
    def code_hash(self) -> str | None:
        """sha256 of the code folder (paths relative to it), or None without code."""
        return hash_tree(self.code_dir) if self.code_dir is not None else None

    @property
    def hashes(self) -> dict[str, str | None]:
        """The content hashes that decide this package's image, by input."""
        return {
            "model": self.model.content_hash,
            "code": self.code_hash,
            "environment": self.base_environment.content_hash if self.base_environment else None,
        }

    @cached_property
    def content_hash(self) -> str:
        """One hash over everything that goes into the image (besides the server itself)."""
        return hash_data(
            {
                **self.hashes,
                "entry_script": self.entry_script,
                "server_type": self.server_type,
                "mode": self.mode,
                "mount_path": self.mount_path,
                "environment_variables": self.environment_variables,
                "inference_configuration": (
                    self.inference_configuration.model_dump(mode="json")
                    if self.inference_configuration
                    else None
                ),
            }
        )


@dataclass(frozen=True, eq=False)
class EndpointAsset:
    name: str
    auth_mode: str
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    file: Path
    spec: OnlineEndpoint


@dataclass(frozen=True, eq=False)
class DeploymentAsset:
    """A deployment: replicas of `package`'s image, `instance_count` of `instance_type`.
    `package_model` tells whether the user asked for packaging (``package_model: true`` or
    a package reference); without it the model, code and environment were given loose and
    are still assembled into `package` here."""

    name: str
    endpoint_name: str
    package: PackageAsset
    instance_type: InstanceType
    instance_count: int
    request_settings: RequestSettings
    liveness_probe: ProbeSettings
    readiness_probe: ProbeSettings
    environment_variables: dict[str, str]
    package_model: bool
    file: Path
    spec: ManagedOnlineDeployment
    resources: ResourceSettings | None = None

    @property
    def egress(self) -> bool:
        """False when `egress_public_network_access` is disabled."""
        return self.spec.egress_public_network_access == "enabled"

    @property
    def data_collection(self) -> DataCollector | None:
        """The `data_collector` settings, when any collection is enabled."""
        collector = self.spec.data_collector
        return collector if collector is not None and collector.enabled else None

    @property
    def batching(self) -> BatchingSettings | None:
        """The `batching` settings (a modelpack extension), when given."""
        return self.spec.batching

    @property
    def autoscale(self) -> ScaleSettings | None:
        """The autoscaling settings, when `scale_settings.type` is target_utilization."""
        settings = self.spec.scale_settings
        return settings if settings.type == "target_utilization" else None
