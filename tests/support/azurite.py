"""Azurite, Azure's blob storage emulator, as a real blob service for `azblob://` state backends.

`running_azurite` starts the copy `make setup` installs (`$MODELPACK_CACHE/azurite`, pinned by
tools/azurite/) on 127.0.0.1 and a port the OS picks, with a fresh account and key and its
data in a folder of the caller's, and stops it on exit: no test depends on a long-running
daemon, and none is left behind. `env` is what pulumi's azblob driver (gocloud.dev azureblob)
reads to reach it; `create_container` makes a backend's container (the driver does not).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from modelpack.cli import backends

ACCOUNT = "modelpackstate"
LISTENING = re.compile(r"listens on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT_S = 30.0


def azurite_bin() -> Path:
    cache = Path(os.environ.get("MODELPACK_CACHE") or Path.home() / ".cache" / "modelpack")
    return cache / "azurite" / "node_modules" / ".bin" / "azurite-blob"


@dataclass
class Azurite:
    port: int
    account: str
    key: str
    process: subprocess.Popen
    log: Path

    @property
    def env(self) -> dict[str, str]:
        """The variables that point pulumi's azblob driver at this instance."""
        return {
            backends.ACCOUNT_ENV: self.account,
            backends.KEY_ENV: self.key,
            backends.DOMAIN_ENV: f"127.0.0.1:{self.port}",
            backends.PROTOCOL_ENV: "http",
            backends.LOCAL_EMULATOR_ENV: "true",
        }

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.account}"

    def client(self) -> BlobServiceClient:
        credential = {"account_name": self.account, "account_key": self.key}
        return BlobServiceClient(self.service_url, credential=credential)

    def create_container(self, name: str) -> str:
        """Create container `name`; returns the backend URL `azblob://<name>`."""
        self.client().create_container(name)
        return f"{backends.AZBLOB_SCHEME}://{name}"

    def blob_names(self, container: str, prefix: str = "") -> list[str]:
        blobs = self.client().get_container_client(container).list_blobs(name_starts_with=prefix)
        return [blob.name for blob in blobs]


def _wait_for_port(process: subprocess.Popen, log: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = LISTENING.search(log.read_text())
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"Azurite did not start in {START_TIMEOUT_S:.0f} s:\n{log.read_text()}")


@contextlib.contextmanager
def running_azurite(folder: Path) -> Iterator[Azurite]:
    """An Azurite blob service with its data and log under `folder`, stopped on exit."""
    binary = azurite_bin()
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `make setup` (it installs Azurite)")
    data = folder / "data"
    data.mkdir(parents=True)
    log = folder / "azurite.log"
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(binary),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--location",
                str(data),
                # Newer SDKs (the Go one in pulumi) send API versions Azurite 3.35 predates.
                "--skipApiVersionCheck",
                # No telemetry: traffic stays on this machine.
                "--disableTelemetry",
                "--silent",
            ],
            env={**os.environ, "AZURITE_ACCOUNTS": f"{ACCOUNT}:{key}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        port = _wait_for_port(process, log)
        yield Azurite(port, ACCOUNT, key, process, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
