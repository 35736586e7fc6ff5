"""Start, find and stop a workspace's registry process.

One registry per workspace: `docker-registry serve <root>/config.yml`, listening on
`127.0.0.1:<port>` only, storing under `<root>/data`, logging to `<root>/registry.log`, its pid
in `<root>/registry.pid`. It runs detached (its own session, stdin closed, output to the log),
so it outlives the process that started it (a Pulumi dynamic provider lives for one `up`).

Every answer carries the header `X-Modelpack-Registry: <root>`: a registry that answers on the
port with another root (another workspace's, or any other process) is never adopted, and the
error names the clash. The Docker engine talks plain HTTP to registries on 127.0.0.0/8
without any configuration, so no TLS is set up.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

IDENTITY_HEADER = "X-Modelpack-Registry"
HOST = "127.0.0.1"
START_DEADLINE_S = 15.0
STOP_DEADLINE_S = 10.0
LOG_TAIL_LINES = 20
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


class RegistryError(Exception):
    pass


@dataclass(frozen=True)
class RegistrySpec:
    root: Path
    """`.state/<ws>/registry`: config, storage, log and pid file of this workspace's registry."""
    port: int = 0
    """The loopback port; 0 picks a free one when the registry is started."""

    @classmethod
    def of(cls, props: dict) -> RegistrySpec:
        """From a resource's `registry` input ({"root": ..., "port": ...}); Pulumi passes
        numbers as floats."""
        return cls(Path(props["root"]), int(props.get("port") or 0))

    def as_props(self) -> dict:
        return {"root": str(self.root), "port": self.port}

    @property
    def identity(self) -> str:
        return str(self.root.resolve())

    @property
    def config_file(self) -> Path:
        return self.root / "config.yml"

    @property
    def pid_file(self) -> Path:
        return self.root / "registry.pid"

    @property
    def lock_file(self) -> Path:
        """Held while the registry is probed and started (see `ensure_running`)."""
        return self.root / "registry.lock"

    @property
    def log_file(self) -> Path:
        return self.root / "registry.log"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


@dataclass(frozen=True)
class RunningRegistry:
    port: int
    pid: int | None
    started: bool
    """True when this call started it; False when it already answered."""

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"


def binary() -> str:
    found = shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None
    )
    if found is None:
        raise RegistryError(
            "docker-registry is not installed: run `make setup` (it installs Debian's "
            "docker-registry package)"
        )
    return found


def render_config(spec: RegistrySpec, port: int) -> str:
    """The registry's configuration (JSON is YAML): storage, loopback address, identity."""
    config = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(spec.data_dir.resolve())},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {
            "addr": f"{HOST}:{port}",
            "headers": {IDENTITY_HEADER: [spec.identity], "X-Content-Type-Options": ["nosniff"]},
        },
    }
    return json.dumps(config, indent=2) + "\n"


def probe(port: int, timeout: float = 1.0) -> str | None:
    """Who answers on the loopback `port`: None when nothing listens, the registry's identity
    header when a registry of ours does, "" for anything else."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            pass
    except OSError:
        return None
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/v2/", timeout=timeout) as answer:
            return answer.headers.get(IDENTITY_HEADER) or ""
    except urllib.error.HTTPError as error:
        return error.headers.get(IDENTITY_HEADER) or ""
    except (OSError, ValueError):
        return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    """Running (a zombie is not: nothing here may reap an orphaned registry)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def running_pids(spec: RegistrySpec) -> list[int]:
    """The live `docker-registry serve <root>/config.yml` processes of this registry."""
    wanted = str(spec.config_file.resolve())
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        texts = [arg.decode(errors="replace") for arg in args if arg]
        if "serve" in texts and wanted in texts and _alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _log_tail(spec: RegistrySpec) -> str:
    try:
        lines = spec.log_file.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _clash(spec: RegistrySpec, port: int, who: str) -> RegistryError:
    owner = f"the registry of {who}" if who else "another process"
    return RegistryError(
        f"port {port} is taken by {owner}, not by this workspace's registry ({spec.identity}); "
        "give each workspace its own modelpack:registryPort"
    )


def start(spec: RegistrySpec) -> RunningRegistry:
    """Start the registry detached; returns once it answers with its identity."""
    port = spec.port or free_port()
    spec.data_dir.mkdir(parents=True, exist_ok=True)
    spec.config_file.write_text(render_config(spec, port))
    with open(spec.log_file, "ab") as log:
        process = subprocess.Popen(
            [binary(), "serve", str(spec.config_file.resolve())],
            cwd=spec.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # setsid: no hang-up or signal from the starter's group
            close_fds=True,
        )
    spec.pid_file.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        answer = probe(port, timeout=0.5)
        if answer == spec.identity:
            return RunningRegistry(port=port, pid=process.pid, started=True)
        if process.poll() is not None:
            spec.pid_file.unlink(missing_ok=True)
            if answer is not None:
                raise _clash(spec, port, answer)
            raise RegistryError(
                f"docker-registry exited with code {process.returncode} on port {port}; the "
                f"end of {spec.log_file}:\n{_log_tail(spec)}"
            )
        if time.monotonic() > deadline:
            process.kill()
            raise RegistryError(
                f"docker-registry did not answer on {HOST}:{port} within "
                f"{START_DEADLINE_S:.0f} s; the end of {spec.log_file}:\n{_log_tail(spec)}"
            )
        time.sleep(0.1)


def _running_port(spec: RegistrySpec) -> int | None:
    """The port a live registry of `spec` was started on (from its config), if one runs."""
    if not running_pids(spec):
        return None
    try:
        return int(json.loads(spec.config_file.read_text())["http"]["addr"].rsplit(":", 1)[1])
    except (OSError, ValueError, KeyError):
        return None


def ensure_running(spec: RegistrySpec) -> RunningRegistry:
    """The registry of `spec`, started when it does not answer yet. The program and several
    providers ask at once: one start per registry, under a lock beside its pid file, and the
    others adopt what it started. A port of 0 adopts a running registry of this root, else
    starts one on a free port."""
    spec.root.mkdir(parents=True, exist_ok=True)
    with open(spec.lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        port = spec.port or _running_port(spec)
        if port:
            answer = probe(port)
            if answer == spec.identity:
                pids = running_pids(spec)
                return RunningRegistry(port=port, pid=pids[0] if pids else None, started=False)
            if answer is not None and spec.port:
                raise _clash(spec, spec.port, answer)
        return start(spec)


def stop(spec: RegistrySpec, deadline_s: float = STOP_DEADLINE_S) -> list[int]:
    """Stop every process serving this registry (the storage stays); the pids stopped."""
    pids = running_pids(spec)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + deadline_s

    def serving() -> bool:
        # A thread group's leader shows as a zombie a moment before its last thread has let
        # go of the listening socket.
        return any(_alive(pid) for pid in pids) or bool(
            pids and spec.port and probe(spec.port, timeout=0.2) is not None
        )

    while serving() and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    spec.pid_file.unlink(missing_ok=True)
    return pids


def manifest_exists(address: str, repository: str, reference: str) -> bool | None:
    """Does the registry at `address` hold `repository` at `reference` (a tag or a digest)?
    None when the registry does not answer."""
    request = urllib.request.Request(
        f"http://{address}/v2/{repository}/manifests/{reference}",
        method="HEAD",
        headers={"Accept": MANIFEST_TYPES},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status == 200
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        return None
    except OSError:
        return None
