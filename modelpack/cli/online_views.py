"""`show` and `list` of endpoints and deployments, as `az ml online-endpoint|online-deployment
show` print them: what runs (the stack's outputs and the target's workloads) joined with what
the workspace's YAML says. A field the YAML changed but no `up` deployed yet appears under
`pending_changes` (after a `--no-up` edit, or an `up` that failed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelpack.assets import AssetFolder, DeploymentAsset, EndpointAsset

from .endpoints import EndpointStatus
from .output_format import Column

NOT_DEPLOYED = "NotDeployed"
"""provisioning_state of an asset the YAML has and the stack does not run (yet)."""
SUCCEEDED = "Succeeded"
FAILED = "Failed"

ENDPOINT_COLUMNS: list[Column] = [
    ("Name", "name"),
    ("Auth", "auth_mode"),
    ("Traffic", "traffic"),
    ("Mirror", "mirror_traffic"),
    ("Scoring URI", "scoring_uri"),
    ("State", "provisioning_state"),
]
DEPLOYMENT_COLUMNS: list[Column] = [
    ("Name", "name"),
    ("Endpoint", "endpoint_name"),
    ("Instance type", "instance_type"),
    ("Count", "instance_count"),
    ("Traffic", "traffic"),
    ("State", "provisioning_state"),
]


@dataclass(frozen=True)
class Context:
    workspace: str
    assets: AssetFolder | None
    """None when the folder cannot be loaded (then only what runs is shown)."""
    statuses: dict[str, EndpointStatus]
    """Deployed endpoints, by name."""
    shown: Path
    """The asset folder as messages name it."""

    def endpoint_asset(self, name: str) -> EndpointAsset | None:
        if self.assets is None:
            return None
        return next((e for e in self.assets.endpoints if e.name == name), None)

    def deployment_asset(self, endpoint: str, name: str) -> DeploymentAsset | None:
        if self.assets is None:
            return None
        return next((d for d in self.assets.deployments_of(endpoint) if d.name == name), None)

    def endpoint_names(self) -> list[str]:
        written = [e.name for e in self.assets.endpoints] if self.assets else []
        return sorted({*written, *self.statuses})

    def deployment_names(self, endpoint: str) -> list[str]:
        written = [d.name for d in self.assets.deployments_of(endpoint)] if self.assets else []
        status = self.statuses.get(endpoint)
        deployed = list(status.endpoint.deployments) if status else []
        return sorted({*written, *deployed})

    def file_of(self, asset: EndpointAsset | DeploymentAsset | None) -> str | None:
        if asset is None or self.assets is None:
            return None
        try:
            return str(self.shown / asset.file.relative_to(self.assets.folder))
        except ValueError:
            return str(asset.file)


def _pending(written: dict[str, Any], deployed: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in written.items() if deployed.get(key) != value}


def endpoint_view(context: Context, name: str) -> dict[str, Any]:
    asset = context.endpoint_asset(name)
    status = context.statuses.get(name)
    written = (
        {
            "auth_mode": asset.auth_mode,
            "traffic": dict(asset.traffic),
            "mirror_traffic": dict(asset.mirror_traffic),
        }
        if asset
        else {}
    )
    view: dict[str, Any] = {"name": name}
    if status is None:
        view |= written | {"scoring_uri": None, "openapi_uri": None}
        view["provisioning_state"] = NOT_DEPLOYED
    else:
        deployed = status.endpoint
        running = {
            "auth_mode": deployed.auth_mode,
            "traffic": dict(deployed.traffic),
            "mirror_traffic": dict(deployed.mirror_traffic),
        }
        view |= running | {
            "scoring_uri": deployed.scoring_uri,
            "openapi_uri": deployed.swagger_uri,
            "provisioning_state": SUCCEEDED if status.router.state == "running" else FAILED,
        }
        pending = _pending(written, running) if asset else {"deleted": True}
        if pending and context.assets is not None:  # unknown when the YAML cannot be read
            view["pending_changes"] = pending
    view["deployments"] = context.deployment_names(name)
    view["workspace"] = context.workspace
    view["file"] = context.file_of(asset)
    return view


def deployment_view(context: Context, endpoint: str, name: str) -> dict[str, Any]:
    asset = context.deployment_asset(endpoint, name)
    status = context.statuses.get(endpoint)
    replicas = [r for r in status.replicas if r.deployment == name] if status else []
    deployed = status is not None and name in status.endpoint.deployments
    view: dict[str, Any] = {"name": name, "endpoint_name": endpoint}
    written: dict[str, Any] = {}
    if asset is not None:
        spec = asset.spec.model_dump(mode="json", exclude_none=True)
        spec.pop("name", None)
        spec.pop("endpoint_name", None)
        view |= spec
        written = {
            "instance_type": asset.instance_type.name,
            "instance_count": asset.instance_count,
        }
        view |= written
    endpoint_asset = context.endpoint_asset(endpoint)
    if deployed:
        assert status is not None
        view["traffic"] = status.endpoint.traffic.get(name, 0)
        view["mirror_traffic"] = status.endpoint.mirror_traffic.get(name, 0)
        view["instance_count"] = len(replicas)
        states = [r.container.state for r in replicas]
        view["provisioning_state"] = (
            SUCCEEDED if states and all(s == "running" for s in states) else FAILED
        )
        pending = _pending({"instance_count": written["instance_count"]}, view) if asset else {}
        if asset is None:
            pending = {"deleted": True}
        shares = _pending(
            {
                "traffic": endpoint_asset.traffic.get(name, 0),
                "mirror_traffic": endpoint_asset.mirror_traffic.get(name, 0),
            }
            if endpoint_asset and asset
            else {},
            view,
        )
        if (pending | shares) and context.assets is not None:
            view["pending_changes"] = pending | shares
    else:
        view["traffic"] = endpoint_asset.traffic.get(name, 0) if endpoint_asset else 0
        view["mirror_traffic"] = endpoint_asset.mirror_traffic.get(name, 0) if endpoint_asset else 0
        view["provisioning_state"] = NOT_DEPLOYED
    view["replicas"] = [
        {"name": r.container.name, "state": r.container.state, "restarts": r.container.restarts}
        for r in replicas
    ]
    view["workspace"] = context.workspace
    view["file"] = context.file_of(asset)
    return view
