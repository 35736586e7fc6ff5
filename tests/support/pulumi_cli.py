"""Running the real Pulumi CLI against a throw-away file backend."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

PASSPHRASE = "modelpack-tests"


@dataclass
class Stack:
    project_dir: Path
    backend_dir: Path
    name: str

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PULUMI_BACKEND_URL": self.backend_dir.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        }

    def run(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["pulumi", *args, "--stack", self.name, "--non-interactive"],
            cwd=self.project_dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def init(self) -> None:
        self.backend_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["pulumi", "stack", "init", self.name, "--non-interactive"],
            cwd=self.project_dir,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )

    def set_config(self, key: str, value: str) -> None:
        self.run("config", "set", key, value)

    def up(self) -> subprocess.CompletedProcess:
        return self.run("up", "--yes", "--skip-preview")

    def outputs(self, show_secrets: bool = False) -> dict:
        flags = ["--show-secrets"] if show_secrets else []
        return json.loads(self.run("stack", "output", "--json", *flags).stdout)

    def destroy(self) -> None:
        self.run("destroy", "--yes", "--skip-preview")
        self.run("stack", "rm", "--yes", "--force")
