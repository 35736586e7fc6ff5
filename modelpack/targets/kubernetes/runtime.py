"""The cluster as the `modelpack` command reads it.

Pods have generated names that change with every rollout, so a deployment's replicas are
named by slot in the stack's outputs: `<namespace>/<deployment object>/<index>`, the index-th
running pod of that Deployment (oldest first). `logs --instance 1` and `list` read the pod in
that slot now.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from modelpack import names

from ..base import WorkloadState
from .cluster import api_client, reachable
from .workloads import WORKLOAD_LABEL


def replica_slot(namespace: str, workload: str, index: int) -> str:
    return f"{namespace}/{workload}/{index}"


def _parse_slot(name: str) -> tuple[str, str, int] | None:
    parts = name.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


def _pod_state(pod: Any) -> tuple[str, int]:
    statuses = pod.status.container_statuses or []
    restarts = sum(status.restart_count or 0 for status in statuses)
    if pod.metadata.deletion_timestamp is not None:
        return "terminating", restarts
    for status in statuses:
        state = status.state
        if state.waiting is not None:
            return ("restarting" if restarts else f"waiting ({state.waiting.reason})"), restarts
        if state.terminated is not None:
            return f"exited (code {state.terminated.exit_code})", restarts
        if state.running is not None and not status.ready:
            return "starting", restarts
    if pod.status.phase == "Running":
        return "running", restarts
    return str(pod.status.phase or "unknown").lower(), restarts


def _live(pods: list) -> list:
    """Pods in slot order: oldest first, terminating ones last (they are on their way out)."""
    return sorted(
        pods,
        key=lambda pod: (
            pod.metadata.deletion_timestamp is not None,
            pod.metadata.creation_timestamp,
            pod.metadata.name,
        ),
    )


class KubernetesRuntime:
    def __init__(self, kubeconfig: str) -> None:
        api = api_client(kubeconfig)
        reachable(api)
        self.core = client.CoreV1Api(api)

    def _slot_pods(self, namespace: str, workload: str) -> list:
        found = self.core.list_namespaced_pod(
            namespace, label_selector=f"{WORKLOAD_LABEL}={workload}"
        ).items
        return _live(found)

    def _resolve(self, name: str) -> tuple[Any | None, str]:
        """The pod in a slot (or of that namespace/name), and the slot's index."""
        slot = _parse_slot(name)
        if slot is not None:
            namespace, workload, index = slot
            pods = self._slot_pods(namespace, workload)
            return (pods[index] if index < len(pods) else None), str(index)
        namespace, _, pod_name = name.rpartition("/")
        if not namespace:
            return None, ""
        try:
            return self.core.read_namespaced_pod(pod_name, namespace), ""
        except client.ApiException:
            return None, ""

    def state(self, name: str) -> WorkloadState:
        pod, index = self._resolve(name)
        if pod is None:
            return WorkloadState(name=name, state="missing", replica=index)
        state, restarts = _pod_state(pod)
        return WorkloadState(
            name=f"{pod.metadata.namespace}/{pod.metadata.name}",
            state=state,
            restarts=restarts,
            replica=index,
        )

    def labelled(self, stack: str, endpoint: str, role: str) -> list[WorkloadState]:
        selector = ",".join(
            [
                f"{names.LABEL_STACK}={stack}",
                f"{names.LABEL_ENDPOINT}={endpoint}",
                f"{names.LABEL_ROLE}={role}",
            ]
        )
        pods = self.core.list_pod_for_all_namespaces(label_selector=selector).items
        by_workload: dict[tuple[str, str], list] = {}
        for pod in pods:
            key = (pod.metadata.namespace, pod.metadata.labels.get(WORKLOAD_LABEL, ""))
            by_workload.setdefault(key, []).append(pod)
        states = []
        for (namespace, workload), group in sorted(by_workload.items()):
            for index, pod in enumerate(_live(group)):
                state, restarts = _pod_state(pod)
                # Replicas are known by slot (what the stack's outputs list), routers by pod.
                shown = (
                    replica_slot(namespace, workload, index)
                    if role == names.ROLE_REPLICA
                    else f"{namespace}/{pod.metadata.name}"
                )
                states.append(WorkloadState(shown, state, restarts, str(index)))
        return states

    def logs(self, name: str, lines: int) -> str | None:
        pod, _ = self._resolve(name)
        if pod is None:
            return None
        try:
            return self.core.read_namespaced_pod_log(
                pod.metadata.name, pod.metadata.namespace, tail_lines=max(lines, 0) or None
            )
        except client.ApiException as error:
            return f"(no log: {error.reason})"
