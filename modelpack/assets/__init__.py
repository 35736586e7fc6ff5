"""The spec layer: pydantic models of the Azure ML CLI v2 style YAML assets of a workspace,
and `load_asset_folder`, which reads a workspace folder, checks it and resolves its references.

Imports only pydantic, pyyaml and the standard library.
"""

from .asset_folder import AssetFolder, load_asset_folder
from .conda import CondaConversionError, CondaFile, PipRequirements, conda_to_pip
from .deployment import (
    BatchingSettings,
    CodeConfiguration,
    ManagedOnlineDeployment,
    ProbeSettings,
    RequestSettings,
)
from .endpoint import OnlineEndpoint
from .environment import Environment, InlineEnvironment
from .errors import AssetFolderError, SpecError
from .hashing import hash_data, hash_file, hash_path, hash_tree
from .instance_types import INSTANCE_TYPES, InstanceType, lookup_instance_type
from .kinds import AssetKind, detect_kind
from .model import InlineModel, Model
from .package import (
    BaseEnvironmentSource,
    InferencingServer,
    ModelConfiguration,
    ModelPackage,
    OnlineInferenceConfiguration,
    PackageCodeConfiguration,
    Route,
)
from .references import Reference, parse_reference
from .resolved import (
    DeploymentAsset,
    EndpointAsset,
    EnvironmentAsset,
    ModelAsset,
    PackageAsset,
)
from .versions import VersionState, next_version

__all__ = [
    "INSTANCE_TYPES",
    "AssetKind",
    "BaseEnvironmentSource",
    "CodeConfiguration",
    "CondaConversionError",
    "CondaFile",
    "DeploymentAsset",
    "EndpointAsset",
    "Environment",
    "EnvironmentAsset",
    "InferencingServer",
    "InlineEnvironment",
    "InlineModel",
    "InstanceType",
    "ManagedOnlineDeployment",
    "Model",
    "ModelAsset",
    "ModelConfiguration",
    "ModelPackage",
    "OnlineEndpoint",
    "OnlineInferenceConfiguration",
    "PackageAsset",
    "PackageCodeConfiguration",
    "PipRequirements",
    "ProbeSettings",
    "Reference",
    "BatchingSettings",
    "RequestSettings",
    "Route",
    "SpecError",
    "VersionState",
    "AssetFolder",
    "AssetFolderError",
    "conda_to_pip",
    "detect_kind",
    "hash_data",
    "hash_file",
    "hash_path",
    "hash_tree",
    "load_asset_folder",
    "lookup_instance_type",
    "next_version",
    "parse_reference",
]
