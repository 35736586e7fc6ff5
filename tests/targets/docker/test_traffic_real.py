"""Traffic tables applied to a real router container (modelpack/targets/docker/traffic.py):
each reload takes effect (apply_config waits until the router answers with the new
configuration's version), and busy keep-alive clients lose no request to it.

Before the routers set keepalive_min_timeout, nginx's old workers closed their idle kept-alive
client connections the moment a reload began, and a request already on its way over one was
reset: 13 and 36 requests over this test's 30 reloads, in the two runs that showed it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from modelpack.router import IMAGE_SOURCE, RouterConfig, render_nginx_conf
from modelpack.router.config import HEALTH_PATH, ROUTER_BASE_IMAGE, ROUTER_PORT, ROUTER_USER_ID
from modelpack.targets.docker.traffic import apply_config
from tests.support.load import SteadyLoad

pytestmark = pytest.mark.real

RELOADS = 30
CLIENTS = 8
CLIENT_INTERVAL_S = 0.002  # from one request of a client to its next: a busy client
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


def test_reloads_under_busy_keep_alive_clients_drop_no_request(router) -> None:
    container, config_dir, url = router
    with SteadyLoad(url, b"", {}, rate=CLIENTS / CLIENT_INTERVAL_S, threads=CLIENTS) as load:
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
    result = load.result
    assert result.failed == 0, (f"{result.failed} of {result.total} failed", result.errors[:3])
    assert result.total > RELOADS * CLIENTS, result.total
