"""Workspaces: one Pulumi stack and one state backend per workspace.

A workspace name (dev, staging, prod) is the name of its Pulumi stack, whose configuration is
`stacks/Pulumi.<ws>.yaml`. Each workspace keeps its state in its own backend, chosen in this order:

1. the environment variable `MODELPACK_BACKEND_URL_<WS>`, where `<WS>` is the name upper-cased
   with every character other than a letter or digit turned into `_`
   (`MODELPACK_BACKEND_URL_PROD`, `MODELPACK_BACKEND_URL_MY_TEAM` for `my-team`);
2. the workspace's `backend` entry in `stacks/workspaces.yaml` (optional file):

       workspaces:
         prod:
           backend: s3://my-bucket/modelpack/prod
         staging:
           backend: file:///srv/modelpack/staging

3. `file://<repo>/.state/<ws>/backend` (the folder is created on first use).

The runner (`cli.pulumi_runner`) sets `PULUMI_BACKEND_URL` from this for every pulumi process it
starts, whatever the caller's environment says, so a stack never runs against another
workspace's state.

Secrets passphrase, one per workspace: `MODELPACK_PASSPHRASE_<WS>` (named like the backend
variable) when set, else `PULUMI_CONFIG_PASSPHRASE` or `PULUMI_CONFIG_PASSPHRASE_FILE` when the
user set one. Otherwise `.state/<ws>/passphrase` (`.state/` is gitignored): read when it exists,
generated once (random, mode 600) when the workspace's stack is first created, and handed to
pulumi as `PULUMI_CONFIG_PASSPHRASE_FILE`. It is generated only for a local (`file://`) backend:
a shared one (`azblob://`, `s3://`) needs a passphrase every clone knows, so the runner asks for
one instead (cli/pulumi_runner.py); cli/backends.py checks what an azblob backend needs.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

from .errors import CliError

PROJECT_ENV = "MODELPACK_PROJECT"
WORKSPACES_FILE = Path("stacks") / "workspaces.yaml"
DEFAULT_WORKSPACE = "dev"
BACKEND_ENV_PREFIX = "MODELPACK_BACKEND_URL_"
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_ENV_PREFIX = "MODELPACK_PASSPHRASE_"
PASSPHRASE_FILE_ENV = "PULUMI_CONFIG_PASSPHRASE_FILE"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Workspace:
    name: str
    """The workspace, and the name of its Pulumi stack."""
    project_dir: Path
    """Where Pulumi.yaml lives; every pulumi process runs here."""
    backend_url: str
    backend_source: str
    """How the backend was chosen, for messages (an env var, the workspaces file, the default)."""
    state_dir: Path
    """`.state/<ws>`: the generated passphrase lives here."""

    @property
    def stack(self) -> str:
        return self.name

    @property
    def passphrase_file(self) -> Path:
        return self.state_dir / "passphrase"

    @property
    def local_backend_dir(self) -> Path | None:
        """The folder of a `file://` backend, None for any other backend."""
        return file_url_path(self.backend_url)

    @property
    def stack_config_file(self) -> Path:
        """`Pulumi.<ws>.yaml`, in the project's `stackConfigDir` when it names one."""
        config_dir = self.project_dir
        project_file = self.project_dir / "Pulumi.yaml"
        if project_file.exists():
            project = yaml.safe_load(project_file.read_text()) or {}
            if isinstance(project, dict) and project.get("stackConfigDir"):
                config_dir = self.project_dir / str(project["stackConfigDir"])
        return config_dir / f"Pulumi.{self.name}.yaml"

    def ensure_backend(self) -> None:
        """Create the folder of a local backend (pulumi refuses a missing one)."""
        folder = self.local_backend_dir
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)


def project_root(environ: Mapping[str, str] | None = None, start: Path | None = None) -> Path:
    """The project folder (the one holding Pulumi.yaml and the program): `$MODELPACK_PROJECT`,
    else the nearest folder at or above the working folder that holds a Pulumi.yaml."""
    environ = os.environ if environ is None else environ
    if environ.get(PROJECT_ENV):
        return Path(environ[PROJECT_ENV]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise CliError(
        f"no Pulumi.yaml in {here} or any folder above it",
        f"run modelpack from the project's checkout, or set {PROJECT_ENV} to its folder",
    )


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise CliError(
            f"{name!r} is not a workspace name",
            "use letters, digits, '-', '_' or '.', starting with a letter or digit (e.g. dev)",
        )
    return name


def _env_suffix(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def backend_env_var(name: str) -> str:
    """`MODELPACK_BACKEND_URL_<WS>` for workspace `name`."""
    return BACKEND_ENV_PREFIX + _env_suffix(name)


def file_url_path(url: str) -> Path | None:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.netloc + parsed.path)).expanduser()


def default_backend_url(root: Path, name: str) -> str:
    return (root / ".state" / name / "backend").resolve().as_uri()


def read_workspaces_file(path: Path) -> dict[str, dict[str, str]]:
    """The `workspaces:` table of `stacks/workspaces.yaml`; {} when the file is absent."""
    if not path.exists():
        return {}
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise CliError(f"{path} is not valid YAML: {error}", f"fix {path}") from None
    table = document.get("workspaces", {}) if isinstance(document, dict) else None
    if not isinstance(table, dict) or not all(isinstance(entry, dict) for entry in table.values()):
        raise CliError(
            f"{path} must hold a mapping `workspaces: {{<ws>: {{backend: <url>}}}}`",
            f"fix {path} (see the docstring of cli/workspaces.py)",
        )
    return {str(ws): {str(k): str(v) for k, v in entry.items()} for ws, entry in table.items()}


def resolve_backend(
    name: str, root: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(backend URL, where it came from) for workspace `name`; see the module docstring."""
    environ = os.environ if environ is None else environ
    root = root or project_root(environ)
    variable = backend_env_var(name)
    if environ.get(variable):
        return environ[variable], f"${variable}"
    entry = read_workspaces_file(root / WORKSPACES_FILE).get(name, {})
    if entry.get("backend"):
        return entry["backend"], str(WORKSPACES_FILE)
    return default_backend_url(root, name), "default"


def resolve_workspace(
    name: str, root: Path | None = None, environ: Mapping[str, str] | None = None
) -> Workspace:
    """The workspace `name` of the project at `root` (default: `project_root()`), with its
    backend."""
    validate_name(name)
    root = root or project_root(environ)
    url, source = resolve_backend(name, root, environ)
    return Workspace(
        name=name,
        project_dir=root,
        backend_url=url,
        backend_source=source,
        state_dir=root / ".state" / name,
    )


@dataclass(frozen=True)
class Passphrase:
    env: dict[str, str]
    """What to add to pulumi's environment ({} when the user's own variable is used)."""
    source: str
    created: bool = False


def passphrase_env_var(name: str) -> str:
    """`MODELPACK_PASSPHRASE_<WS>`: workspace `name`'s own passphrase."""
    return PASSPHRASE_ENV_PREFIX + _env_suffix(name)


def user_passphrase(workspace: Workspace, environ: Mapping[str, str]) -> Passphrase | None:
    """The passphrase the user set in the environment, if any: the workspace's own
    `MODELPACK_PASSPHRASE_<WS>` first, then Pulumi's variables."""
    own = passphrase_env_var(workspace.name)
    if environ.get(own):
        return Passphrase(env={PASSPHRASE_ENV: environ[own]}, source=f"${own}")
    for variable in (PASSPHRASE_ENV, PASSPHRASE_FILE_ENV):
        if variable in environ:
            return Passphrase(env={variable: environ[variable]}, source=f"${variable}")
    return None


def resolve_passphrase(
    workspace: Workspace, environ: Mapping[str, str], create: bool
) -> Passphrase | None:
    """The user's passphrase, else the workspace's passphrase file; with `create`, a new random
    passphrase is written to that file when it does not exist yet. None: no passphrase known."""
    from_user = user_passphrase(workspace, environ)
    if from_user is not None:
        return from_user
    path = workspace.passphrase_file
    env = {PASSPHRASE_FILE_ENV: str(path)}
    if path.exists():
        return Passphrase(env=env, source=str(path))
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return Passphrase(env=env, source=str(path), created=True)
