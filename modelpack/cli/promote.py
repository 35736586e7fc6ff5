"""`promote`: move a package from one workspace to another by digest, without rebuilding it.

    modelpack promote <package> --from dev --to prod [--up]

1. The source workspace's stack outputs name the package's image as a digest in its registry
   (`127.0.0.1:<P1>/<name>@sha256:...`) and its model mode; only `copy` packages are portable
   (a `readonly_mount` image holds no model: it mounts the source workspace's model store).
2. Both registries are made to answer (each is started from its own folder when it does not;
   the target stack's Registry resource takes its registry over at its next `up`).
3. `skopeo copy --preserve-digests` copies the image, blobs and manifest byte for byte, into the
   target's registry (`127.0.0.1:<P2>/<name>:<tag>`); the digest is the same, which is checked.
4. The target's stack config records it: `modelpack:promoted: {<package>: 127.0.0.1:<P2>/<name>
   @sha256:...}` (`pulumi config set --path`), so the target's next `up` pulls that digest and
   deploys it instead of building the package from its workspace folder.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelpack.image_registry import (
    RegistryError,
    RegistrySpec,
    ensure_running,
    manifest_exists,
    parse_reference,
    stop,
)

from .errors import CliError
from .pulumi_runner import PulumiRunner

PROMOTED_KEY = "modelpack:promoted"


@dataclass(frozen=True)
class Promotion:
    package: str
    source: str
    """The digest reference in the source workspace's registry."""
    target: str
    """The same digest in the target workspace's registry (recorded in its config)."""
    copy_seconds: float
    started_registries: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        return self.target.rsplit("@", 1)[-1]


def promoted_path(package: str) -> str:
    """The `pulumi config set --path` key of one package's promoted digest."""
    return f'{PROMOTED_KEY}["{package}"]'


def _config_value(config: dict[str, Any], key: str) -> str | None:
    entry = config.get(key)
    if not entry or entry.get("value") in (None, ""):
        return None
    return str(entry["value"])


def target_registry(runner: PulumiRunner, config: dict[str, Any]) -> RegistrySpec:
    """The target workspace's registry, from its stack config (as the program reads it)."""
    port = _config_value(config, "modelpack:registryPort")
    if not port or not port.isdigit() or int(port) == 0:
        raise CliError(
            f"workspace '{runner.ws}' has no fixed modelpack:registryPort, so there is no "
            "registry to promote into",
            f"set one: `pulumi config set modelpack:registryPort <port> --stack {runner.ws}` "
            f"(in {runner.workspace.stack_config_file})",
        )
    state_dir = Path(_config_value(config, "modelpack:stateDir") or runner.workspace.state_dir)
    if not state_dir.is_absolute():
        state_dir = runner.workspace.project_dir / state_dir
    return RegistrySpec(state_dir / "registry", int(port))


def release_registry(runner: PulumiRunner) -> list[int]:
    """After a destroy: stop the workspace's registry if it still runs. The stack's Registry
    resource stops the registry it owns; one that `promote` started for a workspace that was
    never `up`ped has no owner. Returns the pids stopped (storage is kept)."""
    config = runner.config()
    try:
        spec = target_registry(runner, config)
    except CliError:  # no fixed port: only the stack can have started it
        return []
    return stop(spec)


def source_image(runner: PulumiRunner, package: str) -> tuple[dict[str, Any], RegistrySpec]:
    """The package's entry in the source stack's outputs, and the source registry."""
    outputs = runner.outputs()
    packages = outputs.get("packages") or {}
    if package not in packages:
        known = ", ".join(sorted(packages)) or "none"
        raise CliError(
            f"workspace '{runner.ws}' has no package '{package}' deployed (packages: {known})",
            f"check the name, or run `modelpack up --workspace {runner.ws}` first",
        )
    entry = packages[package]
    if entry.get("mode") != "copy":
        raise CliError(
            f"package '{package}' is {entry.get('mode') or 'readonly_mount'}: its image mounts "
            f"the model from workspace '{runner.ws}''s model store, so it is not portable and "
            "cannot be promoted",
            "set `model_configuration: {mode: copy}` in its package spec (the seed: packages "
            "deployed outside their workspace need copy mode), `up`, then promote",
        )
    registry = outputs.get("registry") or {}
    if not entry.get("digest") or not registry.get("address"):
        raise CliError(
            f"the outputs of workspace '{runner.ws}' carry no registry digest for '{package}'",
            f"run `modelpack up --workspace {runner.ws}` (it pushes packages to the "
            "workspace's registry)",
        )
    port = int(str(registry["address"]).rsplit(":", 1)[-1])
    return entry, RegistrySpec(Path(registry["root"]), port)


def skopeo_copy(source: str, destination: str, skopeo: str | None = None) -> None:
    binary = skopeo or shutil.which("skopeo")
    if binary is None:
        raise CliError("skopeo is not installed", "run `make setup` (it installs Debian's skopeo)")
    command = [
        binary,
        "copy",
        "--quiet",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"docker://{source}",
        f"docker://{destination}",
    ]
    copied = subprocess.run(command, capture_output=True, text=True)
    if copied.returncode != 0:
        raise CliError(
            f"skopeo could not copy {source} to {destination}:\n{copied.stderr.strip()}",
            "check that both registries answer (`curl http://<address>/v2/`)",
        )


def promote(source: PulumiRunner, target: PulumiRunner, package: str) -> Promotion:
    """Copy `package`'s image by digest from `source`'s registry to `target`'s and record it
    in `target`'s stack config. Returns what was done."""
    if source.ws == target.ws:
        raise CliError(f"--from and --to are both '{source.ws}'", "promote between two workspaces")
    entry, source_spec = source_image(source, package)
    reference = parse_reference(entry["digest"])
    target.ensure_stack()
    target_spec = target_registry(target, target.config())
    started = []
    try:
        for spec in (source_spec, target_spec):
            running = ensure_running(spec)
            if running.started:
                started.append(running.address)
    except RegistryError as error:
        raise CliError(str(error), "see the registry's log in the folder named above") from None
    if manifest_exists(reference.address, reference.repository, reference.digest) is not True:
        raise CliError(
            f"{entry['digest']} is not in workspace '{source.ws}''s registry",
            f"run `modelpack up --workspace {source.ws}` (it pushes the package again)",
        )
    destination_address = f"127.0.0.1:{target_spec.port}"
    tag = str(entry.get("tag") or "").rsplit(":", 1)[-1]
    if not tag or "@" in str(entry.get("tag")):
        tag = "sha256-" + reference.digest.removeprefix("sha256:")[:12]
    began = time.monotonic()
    skopeo_copy(str(reference), f"{destination_address}/{reference.repository}:{tag}")
    seconds = time.monotonic() - began
    if manifest_exists(destination_address, reference.repository, reference.digest) is not True:
        raise CliError(
            f"after the copy, {destination_address}/{reference.repository} does not hold "
            f"{reference.digest}: the registry rewrote the manifest",
            "check skopeo's version (1.9 or later keeps digests with --preserve-digests)",
        )
    promoted = f"{destination_address}/{reference.repository}@{reference.digest}"
    target.capture("config", "set", "--path", promoted_path(package), promoted)
    return Promotion(package, str(reference), promoted, seconds, tuple(started))
