"""The model package spec (``package-*.yml``), as ``az ml model package --file`` reads it.

Fields follow the seed's attribute table and the Azure ML SDK's ``ModelPackage``:
``target_environment_name`` (or ``target_environment``, the key Azure's samples and
``az ml model package`` use), ``base_environment_source``, ``inferencing_server``,
``model_configuration``. One extension: ``model``, the model to package (Azure ML takes it
on the command line: ``az ml model package -n NAME -l latest``).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import (
    AliasChoices,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    field_validator,
    model_validator,
)

from .base import (
    AssetModel,
    AssetName,
    ContainerPath,
    EnvironmentVariables,
    SpecModel,
    Tags,
    Version,
    field_error,
)
from .references import ReferenceStr

ServerType = Literal["azureml_online", "custom"]
ModelMode = Literal["readonly_mount", "copy"]


class BaseEnvironmentSource(SpecModel):
    """The environment the package is built on."""

    type: Literal["environment_asset"] = "environment_asset"
    resource_id: ReferenceStr


class PackageCodeConfiguration(SpecModel):
    """The scoring code: a folder (`code`, relative to the YAML file) and the script in it
    that defines ``init()`` and ``run(raw_data)``. The SDK's name ``scoring_script`` is
    accepted for ``entry_script``."""

    code: str
    entry_script: str = Field(validation_alias=AliasChoices("entry_script", "scoring_script"))
    _script_key: str = PrivateAttr(default="entry_script")

    @model_validator(mode="wrap")
    @classmethod
    def _remember_script_key(cls, data: object, handler: ModelWrapValidatorHandler[Self]) -> Self:
        result = handler(data)
        if isinstance(data, dict) and "scoring_script" in data:
            result._script_key = "scoring_script"
        return result

    @property
    def script_key(self) -> str:
        """The key the script was given under (for error messages)."""
        return self._script_key


class Route(SpecModel):
    """Where a custom server answers: a port inside the container and a path."""

    port: int = Field(ge=1, le=65535)
    path: str = "/"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"must start with '/' (got {value!r})")
        return value


class OnlineInferenceConfiguration(SpecModel):
    """The routes of a custom inferencing server (the SDK's ``OnlineInferenceConfiguration``).
    Liveness and readiness default to the scoring route's port with path ``/``."""

    scoring_route: Route
    liveness_route: Route | None = None
    readiness_route: Route | None = None


class InferencingServer(SpecModel):
    """``azureml_online``: the Azure ML inference server running `code_configuration`'s
    ``init``/``run``. ``custom``: the base environment's own server (TensorFlow Serving,
    TorchServe, ...) reached through `inference_configuration`'s routes."""

    type: ServerType
    code_configuration: PackageCodeConfiguration | None = None
    inference_configuration: OnlineInferenceConfiguration | None = None

    @model_validator(mode="after")
    def _fits_type(self) -> Self:
        if self.type == "custom":
            if self.inference_configuration is None:
                raise field_error(
                    "inference_configuration",
                    "is required when type is custom (scoring_route, liveness_route, "
                    "readiness_route: {port, path})",
                )
            if self.code_configuration is not None:
                raise field_error(
                    "code_configuration",
                    "is only used by type azureml_online; a custom server brings its own code",
                )
        elif self.inference_configuration is not None:
            raise field_error("inference_configuration", "is only used by type custom")
        return self


class ModelConfiguration(SpecModel):
    """How the model is placed in the package: mounted read-only from the registry
    (``readonly_mount``, the default) or copied into the image (``copy``, portable).
    `mount_path` is where the model folder appears in the container (the SDK's
    ``ModelConfiguration.mount_path``); by default the Azure ML layout under
    ``AZUREML_MODEL_DIR``."""

    mode: ModelMode = "readonly_mount"
    mount_path: ContainerPath | None = None


TARGET_KEYS = ("target_environment_name", "target_environment")


class ModelPackage(AssetModel):
    """A model package spec: the `model` plus a base environment plus a server, built into
    one image published as the environment `target_environment_name`."""

    target_environment_name: AssetName = Field(validation_alias=AliasChoices(*TARGET_KEYS))
    target_environment_version: Version | None = None
    base_environment_source: BaseEnvironmentSource | None = None
    inferencing_server: InferencingServer
    model_configuration: ModelConfiguration = ModelConfiguration()
    environment_variables: EnvironmentVariables = {}
    tags: Tags = {}
    model: ReferenceStr | None = None
    """Extension: the model to package. If absent, the workspace's only model."""
    _name_key: str = PrivateAttr(default="target_environment_name")

    @model_validator(mode="wrap")
    @classmethod
    def _one_target_key(cls, data: object, handler: ModelWrapValidatorHandler[Self]) -> Self:
        given = [key for key in TARGET_KEYS if isinstance(data, dict) and key in data]
        if len(given) == 2:
            raise field_error(
                "target_environment",
                "give either target_environment or target_environment_name, not both "
                "(they name the same thing)",
            )
        result = handler(data)
        if given:
            result._name_key = given[0]
        return result

    @property
    def name_key(self) -> str:
        """The key the package's name was given under (for error messages)."""
        return self._name_key
