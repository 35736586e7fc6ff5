"""`invoke` and `list`: calling an endpoint, and what each endpoint of a workspace runs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelpack import names
from modelpack.targets.base import Runtime, WorkloadState

from . import tokens
from .errors import CliError
from .outputs import EndpointOutputs, StackOutputs

DEPLOYMENT_HEADER = "azureml-model-deployment"
DEFAULT_TIMEOUT_S = 90.0


# --- invoke -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvokeResult:
    status: int
    body: str
    deployment: str | None
    """The deployment that served the answer (its `azureml-model-deployment` header)."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


def request_headers(
    endpoint: EndpointOutputs, deployment: str | None, key: str | None
) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if deployment is not None:
        headers[DEPLOYMENT_HEADER] = deployment
    return headers


def endpoint_key(endpoint: EndpointOutputs, workspace: str) -> str | None:
    """What goes after `Bearer`: the primary key of a key endpoint, a freshly minted token of
    an aml_token endpoint."""
    if endpoint.keys is None:
        raise CliError(
            f"the stack outputs of workspace '{workspace}' carry no keys for endpoint "
            f"'{endpoint.name}'",
            f"run `modelpack up --workspace {workspace}` so the keys are created",
        )
    if endpoint.auth_mode == "aml_token":
        return tokens.mint(endpoint.name, endpoint.keys.primary).access_token
    return endpoint.keys.primary


def post(uri: str, body: bytes, headers: dict[str, str], timeout: float) -> InvokeResult:
    request = urllib.request.Request(uri, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return InvokeResult(
                answer.status,
                answer.read().decode("utf-8", "replace"),
                answer.headers.get(DEPLOYMENT_HEADER),
            )
    except urllib.error.HTTPError as error:
        return InvokeResult(
            error.code,
            error.read().decode("utf-8", "replace"),
            error.headers.get(DEPLOYMENT_HEADER),
        )


def invoke(
    endpoint: EndpointOutputs,
    body: bytes,
    workspace: str,
    deployment: str | None = None,
    key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> InvokeResult:
    """POST `body` to the endpoint's scoring URI, with its primary key unless `key` is given,
    and with the deployment header when `deployment` names one. Non-2xx answers are returned."""
    if deployment is not None:
        endpoint.deployment(deployment, workspace)
    if key is None:
        key = endpoint_key(endpoint, workspace)
    headers = request_headers(endpoint, deployment, key)
    try:
        return post(endpoint.scoring_uri, body, headers, timeout)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CliError(
            f"could not reach endpoint '{endpoint.name}' at {endpoint.scoring_uri}: {reason}",
            f"`modelpack list --workspace {workspace}` shows whether its router runs; "
            f"`modelpack up --workspace {workspace}` starts what is missing",
        ) from None


def require_success(
    result: InvokeResult, endpoint: EndpointOutputs, workspace: str, deployment: str | None
) -> InvokeResult:
    """The result itself when 2xx; otherwise a CliError with the status, body and a next step."""
    if result.ok:
        return result
    served = f" (deployment {result.deployment})" if result.deployment else ""
    message = f"endpoint '{endpoint.name}' answered {result.status}{served}: {result.body.strip()}"
    target = deployment or result.deployment
    if result.status == 401:
        hint = (
            f"the key was refused; `modelpack keys show --workspace {workspace} --name "
            f"{endpoint.name}` prints the current keys (after `keys regenerate`, the old key "
            "stops working)"
        )
    elif result.status in (502, 503, 504) and target:
        hint = (
            f"`modelpack logs --workspace {workspace} --name {endpoint.name} "
            f"--deployment-name {target}` shows what the replica says"
        )
    elif result.status in (502, 503, 504):
        hint = f"`modelpack list --workspace {workspace}` shows the replicas' state"
    elif 400 <= result.status < 500:
        hint = "check the request file against what the scoring script's run() expects"
    else:
        hint = (
            f"`modelpack logs --workspace {workspace} --name {endpoint.name} "
            f"--deployment-name {target or '<d>'}` shows the scoring script's traceback"
        )
    raise CliError(message, hint)


def read_request_file(path: Path) -> bytes:
    if not path.is_file():
        raise CliError(f"request file {path} does not exist", "pass a JSON file to --request-file")
    return path.read_bytes()


# --- list -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaStatus:
    deployment: str
    instance: int
    container: WorkloadState


@dataclass(frozen=True)
class EndpointStatus:
    endpoint: EndpointOutputs
    router: WorkloadState
    replicas: list[ReplicaStatus]
    strays: list[WorkloadState] = field(default_factory=list)
    """Replica containers labelled with this stack and endpoint that the stack does not track."""

    def as_dict(self) -> dict[str, Any]:
        endpoint = self.endpoint
        deployments: dict[str, list[dict[str, Any]]] = {name: [] for name in endpoint.deployments}
        for replica in self.replicas:
            deployments[replica.deployment].append(
                {"instance": replica.instance, **asdict(replica.container)}
            )
        return {
            "name": endpoint.name,
            "auth_mode": endpoint.auth_mode,
            "scoring_uri": endpoint.scoring_uri,
            "swagger_uri": endpoint.swagger_uri,
            "traffic": endpoint.traffic,
            "mirror_traffic": endpoint.mirror_traffic,
            "router": asdict(self.router),
            "deployments": deployments,
            "untracked_containers": [asdict(stray) for stray in self.strays],
        }


def endpoint_statuses(outputs: StackOutputs, runtime: Runtime) -> list[EndpointStatus]:
    statuses = []
    for name, endpoint in sorted(outputs.endpoints.items()):
        routers = runtime.labelled(outputs.workspace, name, names.ROLE_ROUTER)
        router = routers[0] if routers else WorkloadState(f"{name} router", "missing")
        replicas, tracked = [], set()
        for deployment, replica_names in sorted(endpoint.deployments.items()):
            for index, replica_name in enumerate(replica_names):
                tracked.add(replica_name)
                replicas.append(ReplicaStatus(deployment, index, runtime.state(replica_name)))
        strays = [
            state
            for state in runtime.labelled(outputs.workspace, name, names.ROLE_REPLICA)
            if state.name not in tracked
        ]
        statuses.append(EndpointStatus(endpoint, router, replicas, strays))
    return statuses


def _percent(table: dict[str, int]) -> str:
    return ", ".join(f"{name} {share}%" for name, share in sorted(table.items())) or "-"


def render_statuses(workspace: str, statuses: list[EndpointStatus]) -> str:
    if not statuses:
        return (
            f"workspace '{workspace}' has no endpoints deployed "
            f"(`modelpack up --workspace {workspace}` deploys them)"
        )
    lines = []
    for status in statuses:
        endpoint = status.endpoint
        lines += [
            f"{endpoint.name}  (auth: {endpoint.auth_mode})",
            f"  scoring uri: {endpoint.scoring_uri}",
            f"  traffic:     {_percent(endpoint.traffic)}",
            f"  mirror:      {_percent(endpoint.mirror_traffic)}",
            f"  router:      {status.router.state}",
            "  deployments:",
        ]
        width = max((len(name) for name in endpoint.deployments), default=0)
        for deployment in sorted(endpoint.deployments):
            share = endpoint.traffic.get(deployment, 0)
            replicas = [r for r in status.replicas if r.deployment == deployment]
            lines.append(f"    {deployment:<{width}}  {share:>3}%  {len(replicas)} replica(s)")
            for replica in replicas:
                restarts = (
                    f", {replica.container.restarts} restarts" if replica.container.restarts else ""
                )
                lines.append(
                    f"      [{replica.instance}] {replica.container.name}: "
                    f"{replica.container.state}{restarts}"
                )
        for stray in status.strays:
            lines.append(
                f"  untracked replica container {stray.name} ({stray.state}): not in the stack's "
                f"state; `docker rm -f {stray.name}` removes it"
            )
        lines.append("")
    return "\n".join(lines).rstrip()
