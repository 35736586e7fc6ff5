"""The stack outputs the verbs read (see `__main__.py`), as typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import CliError
from .pulumi_runner import PulumiRunner


@dataclass(frozen=True)
class EndpointKeys:
    primary: str
    secondary: str

    def get(self, key_type: str) -> str:
        return self.primary if key_type == "primary" else self.secondary


@dataclass(frozen=True)
class EndpointOutputs:
    name: str
    scoring_uri: str
    swagger_uri: str
    auth_mode: str
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    deployments: dict[str, list[str]]
    """deployment -> its replicas' container names, in replica order."""
    keys: EndpointKeys | None = None

    def deployment(self, name: str, workspace: str) -> list[str]:
        if name not in self.deployments:
            known = ", ".join(sorted(self.deployments)) or "none"
            raise CliError(
                f"endpoint '{self.name}' of workspace '{workspace}' has no deployment '{name}' "
                f"(deployments: {known})",
                "pick one of those with --deployment-name",
            )
        return self.deployments[name]


@dataclass(frozen=True)
class StackOutputs:
    workspace: str
    endpoints: dict[str, EndpointOutputs] = field(default_factory=dict)

    def endpoint(self, name: str) -> EndpointOutputs:
        if name not in self.endpoints:
            if not self.endpoints:
                raise CliError(
                    f"workspace '{self.workspace}' has no endpoints deployed",
                    f"run `modelpack up --workspace {self.workspace}`",
                )
            known = ", ".join(sorted(self.endpoints))
            raise CliError(
                f"workspace '{self.workspace}' has no endpoint '{name}' (endpoints: {known})",
                "pick one of those with --name (`modelpack list` shows them)",
            )
        return self.endpoints[name]


def parse_outputs(workspace: str, raw: dict[str, Any]) -> StackOutputs:
    """Parse `pulumi stack output --json [--show-secrets]`; keys stay None when hidden."""
    key_table = raw.get("endpoint_keys")
    key_table = key_table if isinstance(key_table, dict) else {}
    endpoints: dict[str, EndpointOutputs] = {}
    for name, entry in (raw.get("endpoints") or {}).items():
        keys = key_table.get(name)
        endpoints[name] = EndpointOutputs(
            name=name,
            scoring_uri=entry["scoring_uri"],
            swagger_uri=entry.get("swagger_uri", ""),
            auth_mode=entry.get("auth_mode", "key"),
            traffic={k: int(v) for k, v in (entry.get("traffic") or {}).items()},
            mirror_traffic={k: int(v) for k, v in (entry.get("mirror_traffic") or {}).items()},
            deployments={
                deployment: list(info.get("replicas") or [])
                for deployment, info in (entry.get("deployments") or {}).items()
            },
            keys=EndpointKeys(keys["primary"], keys["secondary"]) if keys else None,
        )
    return StackOutputs(workspace=workspace, endpoints=endpoints)


def load_outputs(runner: PulumiRunner, show_secrets: bool = False) -> StackOutputs:
    """The outputs of the runner's workspace stack (keys only with `show_secrets`)."""
    return parse_outputs(runner.ws, runner.outputs(show_secrets=show_secrets))
