"""Waiting for a Deployment's rollout, and saying why one failed.

The Deployments themselves are pulumi-kubernetes resources applied without its await logic
(`pulumi.com/skipAwait`): a Rollout resource, updated whenever the Deployment's generation
moves, waits until every replica runs the newest template and is ready, and old ones are gone.
A replica whose container exits, or whose image cannot be pulled, fails the `up` at once with
its last log lines; one that is never ready fails it when the readiness budget is spent. With
`maxUnavailable: 0` the replicas of the previous template keep serving either way, and the
next `up` waits again.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import pulumi
from kubernetes import client
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from modelpack.providers.diff import diff_inputs, props_of
from modelpack.providers.errors import ReportedError
from modelpack.providers.progress import report

from .cluster import api_client

LOG_LINES_ON_FAILURE = 30
POLL_S = 0.5
REPORT_EVERY_S = 10
VERSION_ANSWERS_IN_A_ROW = 5
BROKEN_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


@dataclass
class RolloutArgs:
    kubeconfig: str
    namespace: pulumi.Input[str]
    deployment: str
    generation: pulumi.Input[int]
    """The Deployment's metadata.generation: a new one means a new rollout to wait for."""
    timeout_s: float
    what: str
    """What the Deployment runs, for messages ("deployment blue of endpoint e")."""
    unschedulable_timeout_s: float = 0
    """A replica no node can take fails the `up` after this long (0: only at `timeout_s`)."""
    unschedulable_hint: str = ""
    """Said when a replica cannot be scheduled (e.g. which instance type no node offers)."""


def _newest_pods(core: client.CoreV1Api, apps: client.AppsV1Api, deployment: Any) -> list:
    """The pods of the Deployment's newest ReplicaSet (the template being rolled out)."""
    namespace, name = deployment.metadata.namespace, deployment.metadata.name
    revision = (deployment.metadata.annotations or {}).get("deployment.kubernetes.io/revision")
    selector = ",".join(f"{k}={v}" for k, v in deployment.spec.selector.match_labels.items())
    newest = None
    for replica_set in apps.list_namespaced_replica_set(namespace, label_selector=selector).items:
        owners = replica_set.metadata.owner_references or []
        annotations = replica_set.metadata.annotations or {}
        if any(owner.name == name for owner in owners) and (
            annotations.get("deployment.kubernetes.io/revision") == revision
        ):
            newest = replica_set
    if newest is None:
        return []
    template_hash = newest.metadata.labels.get("pod-template-hash")
    pods = core.list_namespaced_pod(
        namespace, label_selector=f"{selector},pod-template-hash={template_hash}"
    ).items
    return [pod for pod in pods if pod.metadata.deletion_timestamp is None]


def _broken(pod: Any) -> str | None:
    """Why the pod cannot become ready on its own, or None while it may."""
    for status in pod.status.container_statuses or []:
        waiting = status.state.waiting if status.state else None
        terminated = status.state.terminated if status.state else None
        if waiting and waiting.reason in BROKEN_WAITING_REASONS:
            return f"{waiting.reason}: {waiting.message or ''}".strip().rstrip(":")
        if terminated and terminated.exit_code != 0:
            return f"its container exited with code {terminated.exit_code} ({terminated.reason})"
        if status.restart_count and status.last_state and status.last_state.terminated:
            last = status.last_state.terminated
            return f"its container exited with code {last.exit_code} ({last.reason})"
    return None


def _unschedulable(pod: Any) -> str | None:
    """The scheduler's reason when no node can take the pod, else None."""
    for condition in pod.status.conditions or []:
        if condition.type == "PodScheduled" and condition.reason == "Unschedulable":
            return condition.message or "unschedulable"
    return None


def _not_ready(pod: Any) -> str:
    for condition in pod.status.conditions or []:
        if condition.status != "True" and condition.message:
            return f"{condition.type}: {condition.message}"
    return f"phase {pod.status.phase}"


def _last_lines(core: client.CoreV1Api, pod: Any) -> str:
    statuses = pod.status.container_statuses or []
    previous = bool(statuses and statuses[0].restart_count)
    try:
        text = core.read_namespaced_pod_log(
            pod.metadata.name,
            pod.metadata.namespace,
            tail_lines=LOG_LINES_ON_FAILURE,
            previous=previous,
        )
    except client.ApiException:
        return "(no log: the container never started)"
    return text.rstrip() or "(the container wrote nothing)"


def _failure(core: client.CoreV1Api, pod: Any, why: str, what: str) -> ReportedError:
    return ReportedError(
        f"{what}: replica {pod.metadata.name} {why}; the replicas it would replace keep "
        f"serving. Its last log lines:\n{_last_lines(core, pod)}\n"
        "Fix the package (or its deployment YAML) and run `up` again."
    )


def _complete(deployment: Any) -> bool:
    status, wanted = deployment.status, deployment.spec.replicas
    return (
        (status.observed_generation or 0) >= deployment.metadata.generation
        and (status.updated_replicas or 0) == wanted
        and (status.ready_replicas or 0) == wanted
        and (status.available_replicas or 0) == wanted
        and (status.replicas or 0) == wanted
    )


def wait_for_rollout(props: dict[str, Any]) -> None:
    api = api_client(props["kubeconfig"])
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    namespace, name, what = props["namespace"], props["deployment"], props["what"]
    started = time.monotonic()
    deadline = started + float(props["timeout_s"])
    last_report = started
    while True:
        deployment = apps.read_namespaced_deployment(name, namespace)
        if _complete(deployment):
            if props.get("health_url"):
                _wait_for_version(props["health_url"], props["version"], deadline, what)
            wanted = deployment.spec.replicas
            took = time.monotonic() - started
            if props.get("summary"):
                report(f"{what} now serves traffic {props['summary']} ({took:.1f} s)")
            else:
                report(f"{what}: {wanted} replica(s) ready ({took:.1f} s)")
            return
        pods = _newest_pods(core, apps, deployment)
        for pod in pods:
            why = _broken(pod)
            if why:
                raise _failure(core, pod, why, what)
        now = time.monotonic()
        patience = float(props.get("unschedulable_timeout_s") or 0)
        unschedulable = [pod for pod in pods if _unschedulable(pod)]
        if unschedulable and patience and now - started > patience:
            hint = props.get("unschedulable_hint") or ""
            raise ReportedError(
                f"{what}: replica {unschedulable[0].metadata.name} could not be placed on any "
                f"node within {patience:.0f} s ({_unschedulable(unschedulable[0])})"
                f"{'; ' + hint if hint else ''}; the previous replicas keep serving"
            )
        if now > deadline:
            waiting = [pod for pod in pods if not _is_ready(pod)]
            if waiting:
                raise _failure(
                    core,
                    waiting[0],
                    f"was not ready within {props['timeout_s']:.0f} s ({_not_ready(waiting[0])})",
                    what,
                )
            raise ReportedError(
                f"{what}: the rollout did not finish within {props['timeout_s']:.0f} s "
                f"({deployment.status.updated_replicas or 0} of {deployment.spec.replicas} "
                "replicas updated); the previous replicas keep serving"
            )
        if now - last_report >= REPORT_EVERY_S:
            ready = sum(1 for pod in pods if _is_ready(pod))
            report(f"{what}: waiting for replicas, {ready} of {deployment.spec.replicas} ready")
            last_report = now
        time.sleep(POLL_S)


def _wait_for_version(url: str, version: str, deadline: float, what: str) -> None:
    """Until `url` answers `version` several times in a row: every connection kube-proxy
    hands out reaches a router with the new configuration."""
    in_a_row, last = 0, "no answer"
    while in_a_row < VERSION_ANSWERS_IN_A_ROW:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                last = answer.read().decode().strip()
        except OSError as error:
            last = str(error)
        in_a_row = in_a_row + 1 if last == version else 0
        if in_a_row < VERSION_ANSWERS_IN_A_ROW:
            if time.monotonic() > deadline:
                raise ReportedError(
                    f"{what}: its pods are ready but {url} answers {last!r}, not configuration "
                    f"{version}; check that kube-proxy runs (`scripts/cluster.sh status`)"
                )
            time.sleep(POLL_S / 5)


def _is_ready(pod: Any) -> bool:
    return any(
        condition.type == "Ready" and condition.status == "True"
        for condition in pod.status.conditions or []
    )


@dataclass(kw_only=True)
class RouterRolloutArgs(RolloutArgs):
    """A router's rollout is how a traffic table is applied: its inputs say which table (as
    the Docker target's endpoint:Traffic does, for `modelpack preview-summary`)."""

    endpoint: str
    version: pulumi.Input[str]
    summary: str
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    health_url: pulumi.Input[str]
    """The router's health route on its node port: it answers the configuration's version
    once kube-proxy sends there (the rollout alone does not say so)."""


class RolloutProvider(ResourceProvider):
    args_type: type = RolloutArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        wait_for_rollout(props)
        return CreateResult(f"{props['namespace']}/{props['deployment']}", props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(self.args_type, olds, news, replace=("namespace", "deployment"))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        wait_for_rollout(news)
        return UpdateResult(news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)


class Rollout(Resource, module="kubernetes", name="Rollout"):
    def __init__(
        self, resource_name: str, args: RolloutArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(RolloutProvider(), resource_name, props_of(args), opts)


class RouterRolloutProvider(RolloutProvider):
    args_type = RouterRolloutArgs


class RouterRollout(Resource, module="endpoint", name="Traffic"):
    def __init__(
        self,
        resource_name: str,
        args: RouterRolloutArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(RouterRolloutProvider(), resource_name, props_of(args), opts)
