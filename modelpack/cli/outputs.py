"""The stack outputs the verbs read (see `__main__.py`), as typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelpack import names
from modelpack.targets import TARGETS, load_target
from modelpack.targets.base import Runtime, TargetUnavailable

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
    target: str = names.DEFAULT_TARGET
    """Where the stack runs (`modelpack:target`)."""

    def runtime(self) -> Runtime:
        """A connection to where the stack runs."""
        return open_runtime(self.target)

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
    target = str(raw.get(names.OUTPUT_TARGET) or names.DEFAULT_TARGET)
    return StackOutputs(workspace=workspace, endpoints=endpoints, target=target)


def open_runtime(target: str) -> Runtime:
    if target not in TARGETS:
        raise CliError(
            f"the stack runs on target {target!r}, which this modelpack does not know",
            f"install a modelpack that has it (targets: {', '.join(sorted(TARGETS))})",
        )
    try:
        return load_target(target).runtime()
    except TargetUnavailable as error:
        raise CliError(str(error), "start it, then try again") from None


def load_outputs(runner: PulumiRunner, show_secrets: bool = False) -> StackOutputs:
    """The outputs of the runner's workspace stack (keys only with `show_secrets`)."""
    return parse_outputs(runner.ws, runner.outputs(show_secrets=show_secrets))
