"""The pod templates of replicas and routers, as pulumi-kubernetes inputs.

Every container runs hardened, as on the Docker target: no capabilities, no privilege
escalation, a read-only root filesystem with a memory-backed /tmp for scratch, the runtime's
default seccomp profile, and no service-account token. A preStop pause lets kube-proxy stop
sending new connections to a pod before it is asked to stop; the stop itself is graceful
(uvicorn and nginx finish the requests in flight).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pulumi

from ..base import Autoscale, Probe

WORKLOAD_LABEL = "modelpack.workload"
"""The label a Deployment selects its pods by (and a Service its endpoints): its own name."""
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
"""Applied without pulumi-kubernetes's own await: rollout.Rollout waits, and explains."""
DRAIN_S = 5
"""The preStop pause: kube-proxy has removed the pod from its Service before it stops."""
REQUEST_SHARE = 0.1
"""Without requests in `resources:`, a replica requests this share of its limits (the instance
type), so that a small cluster schedules what fits on one Docker host."""
SCRATCH = "/tmp"
HOSTNAME_LABEL = "kubernetes.io/hostname"
NODE_LOSS_TAINTS = ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")
"""What the node lifecycle controller taints a node with once it stops answering."""


def probe(spec: Probe) -> dict[str, Any]:
    return {
        "http_get": {"path": spec.path, "port": spec.port},
        "initial_delay_seconds": int(spec.initial_delay_s),
        "period_seconds": max(1, int(spec.period_s)),
        "timeout_seconds": max(1, math.ceil(spec.timeout_s)),
        "failure_threshold": spec.failure_threshold,
        "success_threshold": spec.success_threshold,
    }


def _cpu(millis: int) -> str:
    # In the cluster's own canonical form, so that a preview shows no change where none is.
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _memory(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def resources(
    cpus: float,
    memory_mb: int,
    cpu_request: float | None = None,
    memory_request_mb: int | None = None,
) -> dict[str, Any]:
    if cpu_request is None:
        cpu_request = max(0.01, cpus * REQUEST_SHARE)
    if memory_request_mb is None:
        memory_request_mb = max(32, round(memory_mb * REQUEST_SHARE))
    return {
        "limits": {"cpu": _cpu(max(1, round(cpus * 1000))), "memory": _memory(memory_mb)},
        "requests": {
            "cpu": _cpu(max(1, round(cpu_request * 1000))),
            "memory": _memory(memory_request_mb),
        },
    }


def hardened_container(
    name: str,
    image: pulumi.Input[str],
    *,
    port: int,
    env: dict[str, str] | None = None,
    readiness: dict[str, Any],
    liveness: dict[str, Any] | None = None,
    resource_limits: dict[str, Any] | None = None,
    volume_mounts: list[dict[str, Any]] | None = None,
    pre_stop: dict[str, Any] | None = None,
    start_as_root_with: Sequence[str] = (),
) -> dict[str, Any]:
    """`pre_stop` replaces the plain drain pause (for a server that must be asked to stop
    gracefully by other means than SIGTERM). `start_as_root_with` starts the container as
    root with those capabilities (a server that gives them up itself before it serves)."""
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "image_pull_policy": "IfNotPresent",
        "ports": [{"container_port": port, "name": "http"}],
        "env": [{"name": key, "value": value} for key, value in sorted((env or {}).items())],
        "readiness_probe": readiness,
        "lifecycle": {"pre_stop": pre_stop or {"sleep": {"seconds": DRAIN_S}}},
        "volume_mounts": [{"name": "scratch", "mount_path": SCRATCH}, *(volume_mounts or [])],
        "security_context": {
            "allow_privilege_escalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "read_only_root_filesystem": True,
        },
    }
    if start_as_root_with:
        container["security_context"].update(
            {
                "capabilities": {"drop": ["ALL"], "add": list(start_as_root_with)},
                "run_as_user": 0,
                "run_as_non_root": False,
            }
        )
    if liveness is not None:
        container["liveness_probe"] = liveness
    if resource_limits is not None:
        container["resources"] = resource_limits
    return container


def owning_container(
    image: pulumi.Input[str], stores: list[tuple[str, str, int]]
) -> dict[str, Any]:
    """An init container that gives each writable store (volume name, mount path, user id) to
    the user the server runs as: a hostPath folder the kubelet creates belongs to root. It runs
    as root with no capability but CHOWN, with the package's own Python."""
    return {
        "name": "own-stores",
        "image": image,
        "image_pull_policy": "IfNotPresent",
        "command": [
            "python3",
            "-c",
            "import os, sys\n"
            "for path, user in zip(sys.argv[1::2], sys.argv[2::2]):\n"
            "    os.chown(path, int(user), int(user))",
            *[part for _, path, owner in stores for part in (path, str(owner))],
        ],
        "volume_mounts": [{"name": name, "mount_path": path} for name, path, _ in stores],
        "security_context": {
            "allow_privilege_escalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
            "privileged": False,
            "read_only_root_filesystem": True,
            "run_as_user": 0,
            "run_as_non_root": False,
        },
    }


def pod_template(
    labels: dict[str, str],
    container: dict[str, Any],
    *,
    stop_grace_s: int,
    init_containers: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    annotations: pulumi.Input[dict[str, str]] | None = None,
    fs_group: int | None = None,
    node_selector: dict[str, str] | None = None,
    node_loss_toleration_s: int | None = None,
) -> dict[str, Any]:
    """The pods of the workload named by `labels[WORKLOAD_LABEL]`: spread over nodes, and
    replaced `node_loss_toleration_s` after their node is lost (None: Kubernetes's 300 s)."""
    security: dict[str, Any] = {"seccomp_profile": {"type": "RuntimeDefault"}}
    if fs_group is not None:
        security["fs_group"] = fs_group
    metadata: dict[str, Any] = {"labels": labels}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {
        "metadata": metadata,
        "spec": {
            "containers": [container],
            **({"init_containers": init_containers} if init_containers else {}),
            "automount_service_account_token": False,
            "enable_service_links": False,
            "security_context": security,
            "termination_grace_period_seconds": stop_grace_s + DRAIN_S,
            "volumes": [{"name": "scratch", "empty_dir": {"medium": "Memory"}}, *(volumes or [])],
            "topology_spread_constraints": [spread_constraint(labels[WORKLOAD_LABEL])],
            **({"node_selector": node_selector} if node_selector else {}),
            **(
                {"tolerations": node_loss_tolerations(node_loss_toleration_s)}
                if node_loss_toleration_s is not None
                else {}
            ),
        },
    }


def spread_constraint(workload: str) -> dict[str, Any]:
    """A workload's pods of one revision go to the node with the fewest of them, where the
    scheduler can place them there (ScheduleAnyway: a full node never leaves a pod Pending)."""
    return {
        "max_skew": 1,
        "topology_key": HOSTNAME_LABEL,
        "when_unsatisfiable": "ScheduleAnyway",
        "label_selector": {"match_labels": {WORKLOAD_LABEL: workload}},
        "match_label_keys": ["pod-template-hash"],
    }


def node_loss_tolerations(seconds: int) -> list[dict[str, Any]]:
    """Pods stay bound to a lost node this long, then are evicted and replaced elsewhere."""
    return [
        {"key": taint, "operator": "Exists", "effect": "NoExecute", "toleration_seconds": seconds}
        for taint in NODE_LOSS_TAINTS
    ]


def deployment_spec(name: str, replicas: int | None, template: dict[str, Any]) -> dict[str, Any]:
    """A rolling Deployment that never goes below `replicas` ready pods (None: an autoscaler
    owns the count, and the Deployment does not say it)."""
    return {
        **({"replicas": replicas} if replicas is not None else {}),
        "selector": {"match_labels": {WORKLOAD_LABEL: name}},
        "strategy": {
            "type": "RollingUpdate",
            "rolling_update": {"max_surge": 1, "max_unavailable": 0},
        },
        "template": template,
    }


def autoscaler_spec(
    name: str, autoscale: Autoscale, scale_down_window_s: int | None
) -> dict[str, Any]:
    """A CPU HorizontalPodAutoscaler (autoscaling/v2) of the Deployment `name`."""
    spec: dict[str, Any] = {
        "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": name},
        "min_replicas": autoscale.min_replicas,
        "max_replicas": autoscale.max_replicas,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "average_utilization": autoscale.target_cpu_percent,
                    },
                },
            }
        ],
    }
    if scale_down_window_s is not None:
        spec["behavior"] = {"scale_down": {"stabilization_window_seconds": scale_down_window_s}}
    return spec
