"""Copies of the checkout acting as separate clones of the project: `modelpack` and `pulumi` run
in each with an environment of their own (no workspace, backend or passphrase choice of the
caller's leaks in)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from modelpack.cli.workspaces import backend_env_var, passphrase_env_var

from .checkout import copy_checkout
from .process_output import Output
from .small_workspace import write_small_endpoint


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without any workspace, backend or passphrase choice, plus
    `extra`."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MODELPACK_BACKEND_URL_", "MODELPACK_PASSPHRASE_", "AZURE_"))
        and key not in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")
        and key != "PULUMI_CONFIG_PASSPHRASE_FILE"
    }
    return {**kept, **extra}


@dataclass
class Clone:
    name: str
    root: Path
    env: dict[str, str]

    def start(self, *args: str) -> Output:
        process = subprocess.Popen(
            ["modelpack", *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return Output(process)

    def run(self, *args: str, timeout_s: float = 900) -> tuple[int, str, float]:
        """(exit code, output, seconds) of `modelpack <args>` in this clone."""
        started = time.monotonic()
        code, output = self.start(*args).finish(timeout_s)
        seconds = time.monotonic() - started
        print(f"[{self.name}] modelpack {' '.join(args)}: exit {code} in {seconds:.1f} s")
        return code, output, seconds

    def ok(self, *args: str) -> tuple[str, float]:
        code, output, seconds = self.run(*args)
        assert code == 0, f"[{self.name}] modelpack {' '.join(args)} exited {code}:\n{output}"
        return output, seconds

    def pulumi(self, *args: str, ws: str) -> str:
        """Plain pulumi against the workspace's backend, as a user of this clone would run it."""
        env = {**self.env, "PULUMI_BACKEND_URL": self.env[backend_env_var(ws)]}
        env["PULUMI_CONFIG_PASSPHRASE"] = self.env[passphrase_env_var(ws)]
        result = subprocess.run(
            ["pulumi", *args, "--stack", ws, "--non-interactive"],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"pulumi {' '.join(args)}:\n{result.stderr}"
        return result.stdout


ASSETS = "team-assets"
"""The asset folder of `small_clone`, relative to the clone (as it would be committed)."""


def small_clone(
    destination: Path, name: str, ws: str, stack_file: str, env: dict[str, str]
) -> Clone:
    """A copy of the checkout with the small endpoint workspace in `team-assets/` and
    `stacks/Pulumi.<ws>.yaml` holding `stack_file`, as if both were committed."""
    root = copy_checkout(destination)
    write_small_endpoint(root / ASSETS)
    (root / "stacks" / f"Pulumi.{ws}.yaml").write_text(stack_file)
    return Clone(name, root, env)
