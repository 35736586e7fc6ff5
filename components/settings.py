"""Per-stack settings: which workspace folder, where state, builds and models live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackSettings:
    stack: str
    workspace: Path
    """The folder of YAML assets this stack deploys."""
    state_dir: Path
    """`.state/<stack>`: this workspace's own files (model store, build contexts)."""
    router_port: int
    """The loopback port of the first endpoint's router (next ones count up; 0: any port)."""
    key_generation_table: dict[str, dict[str, int]]
    """endpoint -> {"primary": n, "secondary": m}: raising a number regenerates that key."""
    max_body_bytes: int
    """Request bodies above this are refused by the router with 413."""

    def key_generations(self, endpoint: str) -> tuple[int, int]:
        generations = self.key_generation_table.get(endpoint, {})
        return int(generations.get("primary", 0)), int(generations.get("secondary", 0))

    @property
    def model_store(self) -> Path:
        return self.state_dir / "models"

    @property
    def build_dir(self) -> Path:
        return self.state_dir / "builds"

    def image_prefix(self, kind: str, name: str) -> str:
        return f"modelpack/{self.stack}/{kind}/{name}"

    @property
    def labels(self) -> dict[str, str]:
        return {"modelpack.stack": self.stack, "modelpack.project": pulumi.get_project()}

    @classmethod
    def from_config(cls) -> StackSettings:
        config = pulumi.Config("modelpack")
        stack = pulumi.get_stack()
        workspace = Path(config.get("workspace") or "workspaces/example")
        state_dir = Path(config.get("stateDir") or PROJECT_ROOT / ".state" / stack)
        return cls(
            stack=stack,
            workspace=workspace if workspace.is_absolute() else PROJECT_ROOT / workspace,
            state_dir=state_dir if state_dir.is_absolute() else PROJECT_ROOT / state_dir,
            router_port=config.get_int("routerPort") or 0,
            key_generation_table=config.get_object("keyGenerations") or {},
            max_body_bytes=config.get_int("maxRequestBodyBytes") or 100 * 1024 * 1024,
        )
