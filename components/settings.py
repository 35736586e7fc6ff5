"""Per-stack (per-workspace) settings: which asset folder, which target, where state, builds
and models live."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from modelpack import names
from modelpack.targets import TARGETS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def asset_folder_setting(config: pulumi.Config, stack: str) -> str | None:
    """`modelpack:assets`, or its old spelling `modelpack:workspace` with a warning."""
    value = config.get(names.CONFIG_ASSETS)
    old = config.get(names.CONFIG_ASSETS_OLD_NAME)
    if old and not value:
        pulumi.log.warn(
            f"stack config of {stack}: {names.config_key(names.CONFIG_ASSETS_OLD_NAME)} is now "
            f"{names.config_key(names.CONFIG_ASSETS)} (the asset folder); rename the key"
        )
        return old
    return value


@dataclass(frozen=True)
class StackSettings:
    stack: str
    target: str
    """Where deployments run: a name of modelpack.targets.TARGETS (`modelpack:target`)."""
    assets: Path
    """The folder of YAML assets this stack deploys."""
    state_dir: Path
    """`.state/<stack>`: this workspace's own files (model store, build contexts)."""
    router_port: int
    """The loopback port of the first endpoint's router; later endpoints get the lowest free
    port above it, kept for the endpoint's life (modelpack/targets/docker/router_port.py).
    0: any port."""
    key_generation_table: dict[str, dict[str, int]]
    """endpoint -> {"primary": n, "secondary": m}: raising a number regenerates that key."""
    max_body_bytes: int
    """Request bodies above this are refused by the router with 413."""
    max_token_lifetime_s: int = names.DEFAULT_MAX_TOKEN_LIFETIME_S
    """aml_token endpoints refuse a token expiring further than this in the future."""
    registry_port: int = 0
    """The loopback port of this workspace's image registry (0: any free port, picked when the
    registry is first started). A workspace that receives promotions needs a fixed one."""
    asset_root: Path | None = None
    """`modelpack:assetRoot`: paths in the asset folder may reach up to it (None: the
    repository holding the folder, see modelpack.assets.boundary)."""
    data_collector_store: Path | None = None
    """`modelpack:dataCollectorStore`: the folder of `data_collector` records (None: the
    workspace's `.state/<ws>/modelDataCollector`)."""
    promoted: dict[str, str] = field(default_factory=dict)
    """package name -> digest reference in this workspace's registry
    (`127.0.0.1:<registryPort>/<name>@sha256:...`), written by `modelpack promote`: those
    packages are deployed from that image, not built."""

    def key_generations(self, endpoint: str) -> tuple[int, int]:
        generations = self.key_generation_table.get(endpoint, {})
        return int(generations.get("primary", 0)), int(generations.get("secondary", 0))

    @property
    def model_store(self) -> Path:
        return self.state_dir / "models"

    @property
    def data_store(self) -> Path:
        """Records of deployments' data collectors: `<store>/<endpoint>/<deployment>/...`."""
        return self.data_collector_store or self.state_dir / names.DATA_COLLECTOR_FOLDER

    @property
    def build_dir(self) -> Path:
        return self.state_dir / "builds"

    @property
    def registry_dir(self) -> Path:
        """Config, storage, log and pid file of the workspace's registry."""
        return self.state_dir / "registry"

    def image_prefix(self, kind: str, name: str) -> str:
        return f"modelpack/{self.stack}/{kind}/{name}"

    @property
    def labels(self) -> dict[str, str]:
        return {names.LABEL_STACK: self.stack, names.LABEL_PROJECT: pulumi.get_project()}

    @classmethod
    def from_config(cls) -> StackSettings:
        config = pulumi.Config(names.CONFIG_NAMESPACE)
        stack = pulumi.get_stack()
        max_token_lifetime_s = config.get_int(names.CONFIG_MAX_TOKEN_LIFETIME)
        if max_token_lifetime_s is not None and max_token_lifetime_s <= 0:
            raise pulumi.RunError(
                f"stack config of {stack}: {names.config_key(names.CONFIG_MAX_TOKEN_LIFETIME)}: "
                f"must be a positive number of seconds (got {max_token_lifetime_s})"
            )
        target = config.get(names.CONFIG_TARGET) or names.DEFAULT_TARGET
        if target not in TARGETS:
            raise pulumi.RunError(
                f"stack config of {stack}: {names.config_key(names.CONFIG_TARGET)}: must be one "
                f"of {', '.join(sorted(TARGETS))} (got {target!r})"
            )
        assets = Path(asset_folder_setting(config, stack) or names.DEFAULT_ASSETS_FOLDER)
        state_dir = Path(config.get(names.CONFIG_STATE_DIR) or PROJECT_ROOT / ".state" / stack)
        asset_root = config.get(names.CONFIG_ASSET_ROOT)
        data_store = config.get(names.CONFIG_DATA_COLLECTOR_STORE)
        return cls(
            stack=stack,
            target=target,
            assets=assets if assets.is_absolute() else PROJECT_ROOT / assets,
            state_dir=state_dir if state_dir.is_absolute() else PROJECT_ROOT / state_dir,
            router_port=config.get_int(names.CONFIG_ROUTER_PORT) or 0,
            key_generation_table=config.get_object(names.CONFIG_KEY_GENERATIONS) or {},
            max_body_bytes=config.get_int(names.CONFIG_MAX_BODY_BYTES)
            or names.DEFAULT_MAX_BODY_BYTES,
            max_token_lifetime_s=max_token_lifetime_s or names.DEFAULT_MAX_TOKEN_LIFETIME_S,
            registry_port=config.get_int(names.CONFIG_REGISTRY_PORT) or 0,
            asset_root=PROJECT_ROOT / asset_root if asset_root else None,
            data_collector_store=PROJECT_ROOT / data_store if data_store else None,
            promoted={
                str(name): str(reference)
                for name, reference in (config.get_object(names.CONFIG_PROMOTED) or {}).items()
            },
        )
