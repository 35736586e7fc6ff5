"""Traffic tables applied to a real router container (modelpack/targets/docker/traffic.py):
each reload is seen to take effect, and busy keep-alive clients lose no request to it.

Before the routers set keepalive_min_timeout, nginx's old workers closed their idle kept-alive
client connections the moment a reload began, and a request already on its way over one was
reset: 13 requests over this test's 30 reloads, in the run that showed it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
import pytest

from modelpack.router import IMAGE_SOURCE, RouterConfig, render_nginx_conf
from modelpack.router.config import HEALTH_PATH, ROUTER_BASE_IMAGE, ROUTER_PORT, ROUTER_USER_ID
from modelpack.targets.docker.traffic import apply_config

pytestmark = pytest.mark.real

RELOADS = 30
CLIENTS = 8
CLIENT_PAUSE_S = 0.002  # between a client's answer and its next request: a busy client
KEYS = ["primaryKey" + "A" * 33, "secondaryKey" + "B" * 31]


def conf(version: str) -> str:
    return render_nginx_conf(
        RouterConfig(endpoint="reload-test", upstreams=[], traffic={}, keys=KEYS, version=version)
    )


def write_owned(path: Path, text: str) -> None:
    """As apply_config writes the live configuration: the router's user alone reads it."""
    path.write_text(text)
    os.chmod(path, 0o600)
    os.chown(path, ROUTER_USER_ID, ROUTER_USER_ID)


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path, str]]:
    """A running router from the router image, its configuration folder and its loopback URL."""
    client = docker.from_env()
    image, _ = client.images.build(
        path=str(IMAGE_SOURCE), buildargs={"BASE_IMAGE": ROUTER_BASE_IMAGE}, rm=True
    )
    config_dir = tmp_path_factory.mktemp("router-config")
    os.chown(config_dir, ROUTER_USER_ID, ROUTER_USER_ID)
    write_owned(config_dir / "nginx.conf", conf("v0"))
    container = client.containers.run(
        image.id,
        detach=True,
        ports={f"{ROUTER_PORT}/tcp": ("127.0.0.1", None)},
        volumes={str(config_dir): {"bind": "/etc/modelpack", "mode": "ro"}},
    )
    try:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"][f"{ROUTER_PORT}/tcp"][0]["HostPort"]
        yield container, config_dir, f"http://127.0.0.1:{port}{HEALTH_PATH}"
    finally:
        container.remove(force=True)


@dataclass
class BusyClients:
    """CLIENTS keep-alive clients asking the health route back to back until stopped."""

    url: str
    versions: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    answer = client.get(self.url)
                    self.versions[(answer.status_code, answer.text)] += 1
                except httpx.HTTPError as error:
                    self.errors.append(repr(error))
                time.sleep(CLIENT_PAUSE_S)

    def __enter__(self) -> BusyClients:
        self.threads = [threading.Thread(target=self._run) for _ in range(CLIENTS)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_reloads_under_busy_keep_alive_clients_drop_no_request(router) -> None:
    container, config_dir, url = router
    with BusyClients(url) as load:
        time.sleep(0.5)  # every client holds a kept-alive connection
        for index in range(1, RELOADS + 1):
            version = f"v{index}"
            apply_config(
                {
                    "endpoint": "reload-test",
                    "router_id": container.id,
                    "config_dir": str(config_dir),
                    "conf": conf(version),
                    "version": version,
                    "summary": version,
                }
            )
        time.sleep(0.5)
    assert not load.errors, f"{len(load.errors)} requests failed: {load.errors[:3]}"
    assert set(load.versions) <= {(200, f"v{index}") for index in range(RELOADS + 1)}
    # Every reload took effect while the clients were asking (apply_config waits for it).
    assert (200, f"v{RELOADS}") in load.versions
    assert sum(load.versions.values()) > RELOADS * CLIENTS
