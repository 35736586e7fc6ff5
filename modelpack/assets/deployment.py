"""The managed online deployment (``blue.yml``, ``green.yml``).

A deployment runs either

- a package: ``environment: azureml:<package>@latest`` (or ``:<version>``), nothing else; or
- a model with its scoring code on an environment: ``model`` + ``code_configuration`` +
  ``environment`` (an environment asset, or one written inline). With ``package_model: true``
  (the CLI's ``--package-model``) the three are packaged first, as Azure ML does;
- an ``mlflow_model`` alone: its environment comes from the model (MLmodel) and the server
  needs no scoring code, packaged or not.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AliasChoices, Field, field_validator, model_validator

from .base import (
    AssetModel,
    ContainerPath,
    DeploymentName,
    EndpointName,
    EnvironmentVariables,
    SpecModel,
    Tags,
    field_error,
    reference_or_inline,
)
from .data_collector import DataCollector
from .environment import InlineEnvironment
from .instance_types import lookup_instance_type, unknown_instance_type_message
from .model import InlineModel
from .references import ReferenceStr
from .resources import ResourceSettings


class CodeConfiguration(SpecModel):
    """A folder of scoring code (relative to the YAML file) and the script in it defining
    ``init()`` and ``run(raw_data)``. ``entry_script`` is accepted for ``scoring_script``."""

    code: str
    scoring_script: str = Field(validation_alias=AliasChoices("scoring_script", "entry_script"))


class RequestSettings(SpecModel):
    """Azure ML's request settings, with its defaults."""

    request_timeout_ms: int = Field(default=5000, ge=1, le=180000)
    max_concurrent_requests_per_instance: int = Field(default=1, ge=1)
    max_queue_wait_ms: int = Field(default=500, ge=0)


class ProbeSettings(SpecModel):
    """A liveness or readiness probe (seconds and counts, as Azure ML)."""

    initial_delay: int = Field(default=10, ge=0)
    period: int = Field(default=10, ge=1)
    timeout: int = Field(default=2, ge=1)
    success_threshold: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=30, ge=1)


class ReadinessProbeSettings(ProbeSettings):
    """A readiness probe: as a liveness probe, but failing after 3 misses by default."""

    failure_threshold: int = Field(default=3, ge=1)


class BatchingSettings(SpecModel):
    """Adaptive batching, a modelpack extension (not an Azure ML field): requests that reach
    a worker together are answered by one call of the model. For MLflow models served without
    a score.py, and for a score.py that defines `run_batch(list_of_raw_data)`.

    A batch goes to the model when it holds `max_batch_size` requests, or once its oldest
    request has waited `max_latency_ms` for others (0: only requests that queued while the
    model was busy are merged, none waits for company)."""

    max_batch_size: int = Field(default=32, le=1024)
    max_latency_ms: int = Field(default=5, ge=0, le=1000)

    @field_validator("max_batch_size")
    @classmethod
    def _merges(cls, value: int) -> int:
        if value < 2:
            raise ValueError(
                f"must be at least 2 (got {value}): a batch of 1 merges nothing; "
                "remove batching to turn it off"
            )
        return value


class ScaleSettings(SpecModel):
    """How many replicas: `default` runs `instance_count`; `target_utilization` runs between
    `min_instances` and `max_instances`, keeping their average CPU near
    `target_utilization_percentage` of what they request (Azure ML's Kubernetes deployments,
    with its defaults; `polling_interval` is in seconds)."""

    type: Literal["default", "target_utilization"] = "default"
    min_instances: int = Field(default=1, ge=1)
    max_instances: int = Field(default=1, ge=1)
    polling_interval: int = Field(default=1, ge=1)
    target_utilization_percentage: int = Field(default=70, ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.max_instances < self.min_instances:
            raise field_error("max_instances", f"is below min_instances ({self.min_instances})")
        if self.type == "default" and self.model_fields_set - {"type"}:
            given = ", ".join(sorted(self.model_fields_set - {"type"}))
            raise field_error("type", f"is default, which takes no {given}: use target_utilization")
        return self


ModelField = reference_or_inline(ReferenceStr, InlineModel)
EnvironmentField = reference_or_inline(ReferenceStr, InlineEnvironment)


class ManagedOnlineDeployment(AssetModel):
    """One deployment of an endpoint: what runs (a package, or model + code + environment)
    on how many replicas of which size."""

    name: DeploymentName
    endpoint_name: EndpointName
    description: str | None = None
    tags: Tags = {}
    model: ModelField | None = None
    code_configuration: CodeConfiguration | None = None
    environment: EnvironmentField | None = None
    package_model: bool = False
    instance_type: str
    instance_count: int = Field(ge=1)
    request_settings: RequestSettings = RequestSettings()
    liveness_probe: ProbeSettings = ProbeSettings()
    readiness_probe: ReadinessProbeSettings = ReadinessProbeSettings()
    environment_variables: EnvironmentVariables = {}
    model_mount_path: ContainerPath | None = None
    resources: ResourceSettings | None = None
    """CPU and memory requests and limits (Azure ML's Kubernetes deployments); limits given
    here replace the instance type's."""
    scale_settings: ScaleSettings = ScaleSettings()
    data_collector: DataCollector | None = None
    """What each replica records of its requests, into the workspace's store."""
    egress_public_network_access: Literal["enabled", "disabled"] = "enabled"
    """`disabled`: the replicas have no route out of the endpoint's network."""
    batching: BatchingSettings | None = None
    """Adaptive batching (modelpack's, not Azure ML's); off when absent."""

    @field_validator("egress_public_network_access", mode="before")
    @classmethod
    def _egress_any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("instance_type")
    @classmethod
    def _known_instance_type(cls, value: str) -> str:
        known = lookup_instance_type(value)
        if known is None:
            raise ValueError(unknown_instance_type_message(value))
        return known.name

    @model_validator(mode="after")
    def _what_runs(self) -> Self:
        if self.environment is None and self.model is None:
            raise field_error(
                "environment",
                "is required: a package (azureml:<package>@latest), an environment together "
                "with model and code_configuration, or give an mlflow_model as model alone",
            )
        if self.code_configuration is not None and self.model is None:
            raise field_error("model", "is required when code_configuration is given")
        if isinstance(self.environment, InlineEnvironment) and self.model is None:
            raise field_error(
                "model",
                "is required with an inline environment (a package is referenced, "
                "never written inline)",
            )
        if self.package_model and self.model is None:
            raise field_error(
                "package_model",
                "needs a model to package (with code_configuration and environment, or an "
                "mlflow_model alone); a deployment of a package needs no package_model",
            )
        return self

    @model_validator(mode="after")
    def _batching_can_merge(self) -> Self:
        batching, requests = self.batching, self.request_settings
        if batching is None:
            return self
        if requests.max_concurrent_requests_per_instance < 2:
            raise field_error(
                "batching",
                "merges requests that an instance serves at once, but "
                "request_settings.max_concurrent_requests_per_instance is "
                f"{requests.max_concurrent_requests_per_instance} (Azure ML's default is 1): "
                "raise it; max_batch_size times the replica's worker processes (one per vCPU) "
                "lets every worker fill its batches",
            )
        if batching.max_latency_ms >= requests.request_timeout_ms:
            raise field_error(
                "batching.max_latency_ms",
                f"must be below request_settings.request_timeout_ms "
                f"({requests.request_timeout_ms}), got {batching.max_latency_ms}",
            )
        return self
