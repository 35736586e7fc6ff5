"""Deployment: `instance_count` replicas of a package image, each limited to its instance
type's CPU and memory, joined to the endpoint's network. Replicas run the package by digest
(`127.0.0.1:<registry port>/<name>@sha256:...`), so a deployment names exactly one image.

A replica counts as created only once its readiness route answers; a replica that exits or
does not become ready within the readiness probe's budget fails the `up` with its last log
lines, and the replicas it would have replaced keep serving. Replicas restart when they crash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pulumi

from modelpack import names
from modelpack.assets import (
    AssetFolder,
    AssetFolderError,
    DeploymentAsset,
    ProbeSettings,
    SpecError,
)
from modelpack.assets.scripts import defines_function
from modelpack.builds.layout import USER_ID
from modelpack.targets import TARGETS, Target
from modelpack.targets.base import Autoscale, Mount, Probe, ReplicaSet

from .compute import limits_for
from .endpoint import Endpoint
from .model import Model
from .package import ModelPackage


@dataclass
class DeploymentArgs:
    asset: DeploymentAsset
    package: ModelPackage
    model: Model | None
    """The registered model a `readonly_mount` package mounts; None otherwise."""
    endpoint: Endpoint
    stack: str
    labels: dict[str, str]
    target: Target
    data_store: Path
    """The workspace's store of `data_collector` records; this deployment writes to
    `<data_store>/<endpoint>/<deployment>`."""


def _server_env(asset: DeploymentAsset, cpus: float) -> dict[str, str]:
    settings = asset.request_settings
    env = {"WORKER_COUNT": str(max(1, math.floor(cpus)))}
    if settings.max_concurrent_requests_per_instance:
        env["MAX_CONCURRENT_REQUESTS_PER_INSTANCE"] = str(
            settings.max_concurrent_requests_per_instance
        )
    if settings.max_queue_wait_ms is not None:
        env["MAX_QUEUE_WAIT_MS"] = str(settings.max_queue_wait_ms)
    if settings.request_timeout_ms:
        env["REQUEST_TIMEOUT_MS"] = str(settings.request_timeout_ms)
    if asset.batching is not None:
        env["MAX_BATCH_SIZE"] = str(asset.batching.max_batch_size)
        env["MAX_BATCH_LATENCY_MS"] = str(asset.batching.max_latency_ms)
    # The liveness probe, kept inside the replica: a worker whose event loop has not answered
    # for as long as the probe tolerates is replaced (a WORKER_TIMEOUT the user set wins).
    liveness = asset.liveness_probe
    if "WORKER_TIMEOUT" not in asset.environment_variables:
        env["WORKER_TIMEOUT"] = str(liveness.period * liveness.failure_threshold + liveness.timeout)
    return env


def _warn_unbatchable(asset: DeploymentAsset, resource: pulumi.Resource) -> None:
    """Batching merges requests for MLflow models and for a score.py with run_batch(); any
    other script scores each request alone, so say so at preview."""
    package = asset.package
    if asset.batching is None or package.code_dir is None or package.entry_script is None:
        return
    if defines_function(package.code_dir / package.entry_script, "run_batch"):
        return
    pulumi.log.warn(
        f"deployment {asset.name}: batching merges requests for MLflow models and for a "
        f"score.py that defines run_batch(list_of_raw_data); {package.entry_script} does not, "
        "so its replicas score each request alone",
        resource=resource,
    )


def _other_targets(target: Target) -> str:
    return ", ".join(name for name in sorted(TARGETS) if name != target.name)


def check_deployments(assets: AssetFolder, target: Target) -> None:
    """What a deployment asks of its target and package: autoscaling needs a target that
    autoscales, disabled egress one that isolates it, and data collection and batching the
    injected server. Run before any resource is declared."""
    errors = []
    for asset in assets.deployments:
        if asset.autoscale is not None and not target.autoscales:
            errors.append(
                SpecError(
                    asset.file,
                    "scale_settings.type",
                    f"target_utilization needs a target that autoscales (modelpack:target: "
                    f"{_other_targets(target)}); this stack's target, {target.name}, runs "
                    "instance_count replicas: use type: default",
                )
            )
        if not asset.egress and not target.isolates_egress:
            errors.append(
                SpecError(
                    asset.file,
                    "egress_public_network_access",
                    f"disabled needs a target that isolates replicas (modelpack:target: "
                    f"{_other_targets(target)}); this stack's target, {target.name}, cannot "
                    "take their route out away yet: use enabled, or deploy to the other target",
                )
            )
        server = asset.package.server_type
        if not asset.egress and server != "azureml_online":
            errors.append(
                SpecError(
                    asset.file,
                    "egress_public_network_access",
                    f"disabled is enforced by the inference server that packages inject (it "
                    f"deletes the replica's route out as it starts); package "
                    f"{asset.package.name} runs its own server ({server}), which cannot: use "
                    "enabled, or package with azureml_online",
                )
            )
        if asset.data_collection is not None and server != "azureml_online":
            errors.append(
                SpecError(
                    asset.file,
                    "data_collector",
                    f"is recorded by the inference server that packages inject; package "
                    f"{asset.package.name} runs its own server ({server}), which cannot: remove "
                    "data_collector, or package with azureml_online",
                )
            )
        if asset.batching is not None and asset.package.server_type != "azureml_online":
            errors.append(
                SpecError(
                    asset.file,
                    "batching",
                    f"is done by the inference server that packages inject; package "
                    f"{asset.package.name} runs its own server ({asset.package.server_type}), "
                    "which cannot: remove batching, or package with azureml_online",
                )
            )
    if errors:
        raise AssetFolderError(assets.folder, errors)


def _data_collection(asset: DeploymentAsset, store: Path) -> tuple[dict[str, str], list[Mount]]:
    """The server's DATA_COLLECTION_* settings and the store's mount, for a deployment with
    collections enabled."""
    collector = asset.data_collection
    if collector is None:
        return {}, []
    env = {
        "DATA_COLLECTION_DIR": names.DATA_COLLECTOR_MOUNT,
        "DATA_COLLECTION_COLLECTIONS": ",".join(collector.enabled),
        "DATA_COLLECTION_SAMPLING_RATE": repr(collector.sampling_rate),
        "DATA_COLLECTION_ROLLING_RATE": collector.rolling_rate,
        "DATA_COLLECTION_SOURCE": f"/endpoints/{asset.endpoint_name}/deployments/{asset.name}",
    }
    if collector.request_logging.capture_headers:
        env["DATA_COLLECTION_CAPTURE_HEADERS"] = ",".join(collector.request_logging.capture_headers)
    folder = store / asset.endpoint_name / asset.name
    mount = Mount(
        source=str(folder), target=names.DATA_COLLECTOR_MOUNT, read_only=False, owner=USER_ID
    )
    return env, [mount]


def _network(asset: DeploymentAsset, endpoint: Endpoint) -> pulumi.Output[str]:
    """The endpoint's network, or its isolated one for a deployment with egress disabled."""
    if asset.egress:
        return endpoint.network
    assert endpoint.isolated_network is not None, "the endpoint was declared without one"
    return endpoint.isolated_network


def _autoscale(asset: DeploymentAsset) -> Autoscale | None:
    settings = asset.autoscale
    if settings is None:
        return None
    return Autoscale(
        min_replicas=settings.min_instances,
        max_replicas=settings.max_instances,
        target_cpu_percent=settings.target_utilization_percentage,
        polling_interval_s=settings.polling_interval,
    )


def _probe(port: int, path: str, settings: ProbeSettings) -> Probe:
    return Probe(
        port=port,
        path=path,
        timeout_s=settings.timeout,
        initial_delay_s=settings.initial_delay,
        period_s=settings.period,
        failure_threshold=settings.failure_threshold,
        success_threshold=settings.success_threshold,
    )


class Deployment(pulumi.ComponentResource):
    servers: pulumi.Output[list[str]]
    """`host:port` of each replica on the endpoint's network, for the router."""
    replica_names: pulumi.Output[list[str]]

    def __init__(
        self, resource_name: str, args: DeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(names.DEPLOYMENT, resource_name, None, opts)
        asset, package = args.asset, args.package
        self.name = asset.name
        limits = limits_for(asset.instance_type, asset.resources)
        if limits.clamped:
            pulumi.log.warn(
                f"deployment {asset.name}: {asset.instance_type.name} has "
                f"{asset.instance_type.vcpus} vCPUs and {asset.instance_type.memory_gib} GiB; "
                f"this host allows {limits.cpus:g} CPUs and {limits.memory_mb} MiB, so replicas "
                "get those",
                resource=self,
            )
        _warn_unbatchable(asset, self)
        layout = package.layout
        env = {**asset.environment_variables}
        mounts = []
        if package.mode == "readonly_mount":
            assert args.model is not None, "a readonly_mount package needs its registered model"
            mounts.append(Mount(source=args.model.store_path, target=str(layout.model_dir)))
        if package.server_type == "azureml_online":
            env.update(_server_env(asset, limits.cpus))
            collection_env, collection_mounts = _data_collection(asset, args.data_store)
            env.update(collection_env)
            mounts += collection_mounts
            readiness_path, liveness_path = "/readyz", "/"
        else:
            readiness_path = package.readiness_route.path
            liveness_path = package.liveness_route.path if package.liveness_route else None
        probe = asset.readiness_probe
        ready_timeout_s = probe.initial_delay + probe.period * probe.failure_threshold
        labels = {
            **args.labels,
            names.LABEL_ENDPOINT: asset.endpoint_name,
            names.LABEL_DEPLOYMENT: asset.name,
            names.LABEL_ROLE: names.ROLE_REPLICA,
        }
        request_timeout_s = (asset.request_settings.request_timeout_ms or 5000) / 1000
        replicas = args.target.replicas(
            resource_name,
            ReplicaSet(
                name=f"mp-{args.stack}-{asset.endpoint_name}-{asset.name}",
                image=package.digest,
                count=asset.instance_count,
                env=env,
                labels=labels,
                network=_network(asset, args.endpoint),
                mounts=mounts,
                cpus=limits.cpus,
                memory_mb=limits.memory_mb,
                instance_type=asset.instance_type.name,
                autoscale=_autoscale(asset),
                cpu_request=limits.cpu_request,
                memory_request_mb=limits.memory_request_mb,
                readiness=_probe(layout.port, readiness_path, probe),
                ready_timeout_s=ready_timeout_s,
                stop_grace_s=max(10, math.ceil(request_timeout_s) + 2),
                liveness=_probe(layout.port, liveness_path, asset.liveness_probe)
                if liveness_path
                else None,
                egress=asset.egress,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.replica_names = replicas.names
        self.servers = replicas.servers
        self.register_outputs({"servers": self.servers, "replica_names": self.replica_names})
