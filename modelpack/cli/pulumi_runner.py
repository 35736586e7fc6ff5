"""Running the Pulumi CLI for one workspace: its stack, its backend, its passphrase.

Every pulumi process runs in the project folder with `PULUMI_BACKEND_URL` set to the
workspace's backend and `--stack <ws> --non-interactive`, so a command can only ever touch the
selected workspace's state.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from modelpack import names

from .backends import check_backend, explain_failure
from .errors import CliError
from .workspaces import (
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    Passphrase,
    Workspace,
    passphrase_env_var,
    resolve_passphrase,
)

LIFECYCLE_VERBS = ("up", "preview", "destroy", "refresh")
_VERB_FLAGS: dict[str, list[str]] = {
    "up": ["--yes"],
    "preview": ["--diff"],
    "destroy": ["--yes"],
    "refresh": ["--yes"],
}
_TAIL_LINES = 200


def tool_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment plus what scripts/env.sh sets, so `modelpack` also works
    from a shell that did not source it: the cached Pulumi CLI and the plugin shims on PATH,
    no update checks, no plugin downloads."""
    env = dict(environ)
    cache = Path(env.get("MODELPACK_CACHE") or Path.home() / ".cache" / "modelpack")
    path = env.get("PATH", "").split(os.pathsep)
    extra = [str(cache / "bin"), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join([p for p in extra if p not in path] + path)
    env.setdefault("PULUMI_HOME", str(cache / "pulumi-home"))
    env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    env.setdefault("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
    env.setdefault("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", "true")
    env.setdefault("PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER", "true")
    return env


@dataclass
class PulumiResult:
    returncode: int
    stdout: str
    stderr: str


class PulumiRunner:
    def __init__(
        self,
        workspace: Workspace,
        environ: Mapping[str, str] | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.workspace = workspace
        self.environ = tool_env(os.environ if environ is None else environ)
        self.out = out or sys.stdout
        self._passphrase: Passphrase | None = None
        self._backend_checked = False

    # --- environment -------------------------------------------------------------------------

    @property
    def ws(self) -> str:
        return self.workspace.name

    def note(self, message: str) -> None:
        print(f"note: {message}", file=sys.stderr, flush=True)

    def _executable(self) -> str:
        found = shutil.which("pulumi", path=self.environ["PATH"])
        if found is None:
            raise CliError(
                "the Pulumi CLI is not installed",
                "run `make setup` (it builds pulumi into ~/.cache/modelpack/bin), then "
                "`source scripts/env.sh`",
            )
        return found

    def env(self, passphrase: Passphrase | None = None) -> dict[str, str]:
        env = dict(self.environ)
        env["PULUMI_BACKEND_URL"] = self.workspace.backend_url
        if passphrase is not None:
            # Only the chosen source reaches pulumi: another workspace's passphrase in the
            # caller's environment must not win over this workspace's own.
            env.pop(PASSPHRASE_ENV, None)
            env.pop(PASSPHRASE_FILE_ENV, None)
            env.update(passphrase.env)
        return env

    def passphrase(self, create: bool = False) -> Passphrase:
        """The workspace's passphrase; with `create` a new one may be generated (first init),
        in the clone's `.state/<ws>/passphrase`: only for a local backend, since the other
        users of a shared one could not read it."""
        if self._passphrase is None:
            shared = self.workspace.local_backend_dir is None
            found = resolve_passphrase(self.workspace, self.environ, create=create and not shared)
            if found is None and shared:
                raise self.shared_passphrase_error()
            if found is None:
                if not self.stack_exists():
                    raise self.missing_stack_error()
                raise CliError(
                    f"stack '{self.ws}' exists in {self.workspace.backend_url} but no passphrase "
                    "for its secrets is known on this machine",
                    "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the "
                    f"passphrase the stack was created with, or write it to "
                    f"{self.workspace.passphrase_file} (chmod 600)",
                )
            if found.created:
                self.note(
                    f"generated a passphrase for workspace '{self.ws}' in {found.source} "
                    "(keep it: the stack's secrets are encrypted with it)"
                )
            self._passphrase = found
        return self._passphrase

    def shared_passphrase_error(self) -> CliError:
        return CliError(
            f"workspace '{self.ws}' keeps its state in {self.workspace.backend_url} "
            f"(backend: {self.workspace.backend_source}), shared with other clones, and no "
            "passphrase for its secrets is set: one generated here would be known to this clone "
            "only",
            f"set {passphrase_env_var(self.ws)} (or {PASSPHRASE_FILE_ENV} to a file every clone "
            f"reads) to the workspace's passphrase, the same for everyone, or write it to "
            f"{self.workspace.passphrase_file} (chmod 600)",
        )

    def check_backend(self) -> None:
        """Refuse, before the first pulumi process, a backend pulumi could not reach
        (cli/backends.py); file backends need nothing."""
        if not self._backend_checked:
            check_backend(self.workspace.backend_url, self.environ)
            self._backend_checked = True

    # --- running -----------------------------------------------------------------------------

    def _command(self, args: Sequence[str], stack: bool) -> list[str]:
        command = [self._executable(), *args]
        if stack:
            command += ["--stack", self.ws]
        return [*command, "--non-interactive"]

    def capture(
        self, *args: str, stack: bool = True, secrets: bool = True, check: bool = True
    ) -> PulumiResult:
        """Run pulumi and collect its output; raise CliError on failure when `check`."""
        self.check_backend()
        env = self.env(self.passphrase() if secrets else None)
        completed = subprocess.run(
            self._command(args, stack),
            cwd=self.workspace.project_dir,
            env=env,
            capture_output=True,
            text=True,
        )
        result = PulumiResult(completed.returncode, completed.stdout, completed.stderr)
        if check and result.returncode != 0:
            raise self._failure(args, result.returncode, result.stderr + result.stdout)
        return result

    def stream(self, *args: str) -> tuple[int, str]:
        """Run pulumi with its output printed as it comes; (exit code, last lines)."""
        self.check_backend()
        self.workspace.ensure_backend()
        process = subprocess.Popen(
            self._command(args, stack=True),
            cwd=self.workspace.project_dir,
            env=self.env(self.passphrase()),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        assert process.stdout is not None
        for line in process.stdout:
            self.out.write(line)
            self.out.flush()
            tail.append(line)
        return process.wait(), "".join(tail)

    def _failure(self, args: Sequence[str], code: int, output: str) -> CliError:
        command = "pulumi " + " ".join(args)
        text = output.strip()
        source = self._passphrase.source if self._passphrase else "nowhere"
        explained = explain_failure(self.workspace.backend_url, self.environ, text)
        if explained is not None:
            return explained
        if "incorrect passphrase" in text or "failed to decrypt" in text:
            return CliError(
                f"{command} (stack '{self.ws}'): the passphrase is not the one the stack was "
                f"created with (passphrase from {source})",
                "set PULUMI_CONFIG_PASSPHRASE to the stack's passphrase, or write it to "
                f"{self.workspace.passphrase_file}",
            )
        if re.search(r"no stack named '[^']*' found", text):
            return self.missing_stack_error()
        return CliError(
            f"{command} (stack '{self.ws}') exited {code}:\n{text}",
            "read pulumi's message above; `pulumi` runs in "
            f"{self.workspace.project_dir} with PULUMI_BACKEND_URL={self.workspace.backend_url}",
        )

    def missing_stack_error(self) -> CliError:
        return CliError(
            f"no stack '{self.ws}' in {self.workspace.backend_url}",
            f"run `modelpack up --workspace {self.ws}` first",
        )

    # --- stacks ------------------------------------------------------------------------------

    def stack_exists(self) -> bool:
        folder = self.workspace.local_backend_dir
        if folder is not None and not folder.exists():
            return False
        listing = self.capture("stack", "ls", "--json", stack=False, secrets=False)
        try:
            stacks = json.loads(listing.stdout or "[]")
        except json.JSONDecodeError:
            raise CliError(
                f"pulumi stack ls printed something that is not JSON:\n{listing.stdout}"
            ) from None
        names = {str(entry.get("name", "")).rsplit("/", 1)[-1] for entry in stacks}
        return self.ws in names

    def require_stack(self) -> None:
        if not self.stack_exists():
            raise self.missing_stack_error()

    def ensure_stack(self) -> bool:
        """Create the workspace's stack in its backend if it is missing; True when created."""
        if self.stack_exists():
            self.passphrase()
            return False
        self.passphrase(create=True)
        self.workspace.ensure_backend()
        init = self.capture("stack", "init", self.ws, stack=False, check=False)
        if init.returncode != 0 and "incorrect passphrase" in init.stderr + init.stdout:
            # A committed Pulumi.<ws>.yaml carries the encryption salt of whoever created the
            # stack first; with no encrypted values in it, a new stack can take a new salt.
            if drop_encryption_salt(self.workspace.stack_config_file):
                self.note(
                    f"{self.workspace.stack_config_file.name} carried another passphrase's "
                    "encryption salt and no encrypted values: removed the salt so the new stack "
                    "records its own"
                )
                init = self.capture("stack", "init", self.ws, stack=False, check=False)
        if init.returncode != 0:
            raise self._failure(["stack", "init", self.ws], init.returncode, init.stderr)
        print(
            f"created stack '{self.ws}' in {self.workspace.backend_url} "
            f"(backend: {self.workspace.backend_source})",
            file=self.out,
            flush=True,
        )
        if not names.asset_folder_in(self.stack_file_config()):
            key = names.config_key(names.CONFIG_ASSETS)
            self.note(
                f"{self.workspace.stack_config_file} sets no {key}, so the example asset "
                f"folder is deployed; set yours with `pulumi config set {key} <folder> "
                f"--stack {self.ws}`"
            )
        return True

    def lifecycle(self, verb: str, extra: Sequence[str] = ()) -> int:
        """`pulumi up|preview|destroy|refresh` for the workspace, output streamed; exit code."""
        if verb not in LIFECYCLE_VERBS:
            raise ValueError(verb)
        if verb == "destroy" and not self.stack_exists():
            print(f"no stack '{self.ws}' in {self.workspace.backend_url}: nothing to destroy")
            return 0
        self.ensure_stack()
        code, tail = self.stream(verb, *_VERB_FLAGS[verb], *extra)
        if code != 0:
            raise self._lifecycle_failure(verb, code, tail)
        return code

    def preview_json(self) -> tuple[int, dict[str, Any]]:
        """`pulumi preview --diff --json` (the stack is created if missing): its exit code and
        its JSON document, which also describes a failed preview (`diagnostics`)."""
        self.ensure_stack()
        result = self.capture("preview", "--diff", "--json", check=False)
        try:
            document = json.loads(result.stdout)
        except json.JSONDecodeError:
            raise self._failure(["preview", "--json"], result.returncode, result.stderr) from None
        return result.returncode, document

    def _lifecycle_failure(self, verb: str, code: int, tail: str) -> CliError:
        explained = explain_failure(self.workspace.backend_url, self.environ, tail)
        if explained is not None:
            return explained
        if "incorrect passphrase" in tail or "failed to decrypt" in tail:
            return self._failure([verb], code, tail)
        if "the stack is currently locked" in tail:
            return CliError(
                f"pulumi {verb} (stack '{self.ws}'): another update of this stack is running",
                "wait for it to finish; if none is running, `pulumi cancel --stack "
                f"{self.ws}` with PULUMI_BACKEND_URL={self.workspace.backend_url}",
            )
        return CliError(
            f"pulumi {verb} of workspace '{self.ws}' failed (exit {code})",
            "the diagnostics above name the resource and the reason; fix it and rerun "
            f"`modelpack {verb} --workspace {self.ws}`",
        )

    # --- outputs and config ------------------------------------------------------------------

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        if show_secrets:
            args = ["stack", "output", "--json", "--show-secrets"]
            return json.loads(self.capture(*args).stdout or "{}")
        # Without secrets no passphrase is needed, only the stack.
        folder = self.workspace.local_backend_dir
        if folder is not None and not folder.exists():
            raise self.missing_stack_error()
        result = self.capture("stack", "output", "--json", secrets=False)
        return json.loads(result.stdout or "{}")

    def config(self) -> dict[str, Any]:
        """The stack's configuration: {key: {value, objectValue?, secret}}."""
        return json.loads(self.capture("config", "--json").stdout or "{}")

    def stack_file_config(self) -> dict[str, Any]:
        """The `config:` table of the stack file ({} when it has none)."""
        path = self.workspace.stack_config_file
        document = yaml.safe_load(path.read_text()) if path.exists() else None
        config = document.get("config") if isinstance(document, dict) else None
        return config if isinstance(config, dict) else {}

    def target(self) -> str:
        """`modelpack:target` of the stack file (the default target when it sets none)."""
        key = names.config_key(names.CONFIG_TARGET)
        return str(self.stack_file_config().get(key) or names.DEFAULT_TARGET)

    def set_config_int(self, path: str, value: int) -> None:
        self.capture("config", "set", "--path", path, str(value), "--type", "int")


def drop_encryption_salt(config_file: Path) -> bool:
    """Remove `encryptionsalt` from a stack config file holding no `secure:` values."""
    if not config_file.exists():
        return False
    text = config_file.read_text()
    if "secure:" in text or "encryptionsalt:" not in text:
        return False
    kept = [line for line in text.splitlines(True) if not line.startswith("encryptionsalt:")]
    config_file.write_text("".join(kept))
    return True
