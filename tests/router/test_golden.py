"""Golden files of the router's nginx.conf: what `render_nginx_conf` writes for representative
endpoints, checked in under tests/router/golden/, and each one accepted by `nginx -t`.

A change to the renderer shows up here as a unified diff of the configuration itself. When the
change is intended, regenerate the files and review them with `git diff` before committing:

    UPDATE_GOLDEN=1 pytest tests/router

The `nginx -t` check runs the nginx the routers run: the router image's base
(ROUTER_BASE_IMAGE), in a container that sees the configuration and the token script where the
check writes them.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from modelpack.router import (
    IMAGE_SOURCE,
    RouterConfig,
    Upstream,
    render_closed_conf,
    render_nginx_conf,
)
from modelpack.router.config import ROUTER_BASE_IMAGE

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

ENDPOINT = "sklearn-regression-online"
KEYS = ["primaryKey" + "A" * 33, "secondaryKey" + "B" * 31]


def replicas(deployment: str, count: int = 1) -> list[str]:
    """Replica addresses as the Docker target names the containers."""
    return [f"mp-dev-{ENDPOINT}-{deployment}-{index}:5001" for index in range(count)]


CASES: dict[str, Callable[[], str]] = {
    # The bootstrap configuration: health route, 503 for everything else.
    "closed": lambda: render_closed_conf(ENDPOINT),
    # The example workspace: key auth, blue 80 / green 20.
    "key_split_80_20": lambda: render_nginx_conf(
        RouterConfig(
            endpoint=ENDPOINT,
            upstreams=[Upstream("blue", replicas("blue")), Upstream("green", replicas("green"))],
            traffic={"blue": 80, "green": 20},
            keys=KEYS,
            version="0123456789abcdef",
        )
    ),
    # Signed tokens; all live traffic to blue, 10% of it mirrored to green.
    "aml_token_mirror": lambda: render_nginx_conf(
        RouterConfig(
            endpoint=ENDPOINT,
            upstreams=[Upstream("blue", replicas("blue")), Upstream("green", replicas("green"))],
            traffic={"blue": 100, "green": 0},
            mirror_traffic={"green": 10},
            keys=KEYS,
            auth_mode="aml_token",
            max_token_lifetime_s=3600,
        )
    ),
    # green takes no live traffic but answers requests naming it in azureml-model-deployment;
    # red's replicas are not ready, so it is neither in the split nor reachable by name.
    "zero_percent_header_only": lambda: render_nginx_conf(
        RouterConfig(
            endpoint=ENDPOINT,
            upstreams=[
                Upstream("blue", replicas("blue")),
                Upstream("green", replicas("green")),
                Upstream("red", []),
            ],
            traffic={"blue": 100, "green": 0, "red": 0},
            keys=KEYS[:1],
        )
    ),
    # One deployment of three replicas.
    "replicas_3": lambda: render_nginx_conf(
        RouterConfig(
            endpoint=ENDPOINT,
            upstreams=[Upstream("blue", replicas("blue", 3))],
            traffic={"blue": 100},
            keys=KEYS,
        )
    ),
    # A 1 MiB body limit and a 2.5 s request timeout (proxy read/send, the mirror's read).
    "limits_and_timeouts": lambda: render_nginx_conf(
        RouterConfig(
            endpoint=ENDPOINT,
            upstreams=[Upstream("blue", replicas("blue")), Upstream("green", replicas("green"))],
            traffic={"blue": 50, "green": 50},
            mirror_traffic={"blue": 5},
            keys=KEYS,
            max_body_bytes=1024 * 1024,
            request_timeout_s=2.5,
        )
    ),
}


def golden_path(case: str) -> Path:
    return GOLDEN / f"{case}.conf"


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_configuration_matches_its_golden_file(case: str) -> None:
    rendered = CASES[case]()
    path = golden_path(case)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(rendered)
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; write it with: UPDATE_GOLDEN=1 pytest tests/router")
    expected = path.read_text()
    if rendered != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                rendered.splitlines(keepends=True),
                fromfile=f"golden/{path.name}",
                tofile="rendered",
            )
        )
        pytest.fail(
            f"the rendered configuration differs from {path}"
            " (if intended: UPDATE_GOLDEN=1 pytest tests/router, then review git diff):\n" + diff,
            pytrace=False,
        )


def test_every_golden_file_belongs_to_a_case() -> None:
    stale = sorted(p.name for p in GOLDEN.glob("*.conf") if p.stem not in CASES)
    assert not stale, f"golden files without a case (delete them): {stale}"


def test_the_golden_files_show_what_each_case_is_about() -> None:
    """A regenerated golden file still has to say what its case claims."""
    key = golden_path("key_split_80_20").read_text()
    assert "        80% blue;\n        20% green;\n" in key
    assert f'        "Bearer {KEYS[0]}" 1;\n        "Bearer {KEYS[1]}" 1;\n' in key
    assert "js_set" not in key

    token = golden_path("aml_token_mirror").read_text()
    assert "js_set $authorized token.authorized;" in token
    assert "Bearer" not in token.replace("WWW-Authenticate Bearer", "")
    assert "mirror /_mirror/green;" in token
    assert "        10% yes;\n" in token
    assert "% green;" not in token  # mirrored, not split

    zero = golden_path("zero_percent_header_only").read_text()
    assert "% green;" not in zero and '"green" "green";' in zero
    assert "deployment_red" not in zero and '"red"' not in zero

    assert golden_path("replicas_3").read_text().count(" max_fails=1 fail_timeout=2s;") == 3

    limits = golden_path("limits_and_timeouts").read_text()
    assert "client_max_body_size 1048576;" in limits
    # nginx takes no fractional seconds: 2.5 s is written in milliseconds.
    assert limits.count("proxy_read_timeout 2500ms;") == 2  # live traffic and the mirror

    closed = golden_path("closed").read_text()
    assert "proxy_pass" not in closed and "return 503" in closed


# --- nginx -t ------------------------------------------------------------------------------

TOKEN_SCRIPT = "/usr/share/modelpack-router/token.js"
TEMPORARY_PATH = re.compile(r"^(\s*(?:pid|[a-z_]+_temp_path) )/tmp/", re.MULTILINE)
UPSTREAM_SERVER = re.compile(r"^(\s+server )[A-Za-z0-9_.-]+(:[0-9]+ )", re.MULTILINE)


def for_this_host(conf: str, folder: Path) -> str:
    """`conf` as nginx can load it outside a router, changing only what depends on where it
    runs:

    - the token script, copied into the router image at TOKEN_SCRIPT, is read from the
      image's build context;
    - temporary folders under /tmp go to `folder` (nginx -t creates them);
    - replica host names (resolved by the Docker network's DNS in the router) become
      127.0.0.1: nginx resolves upstream servers when it loads a configuration.
    """
    conf = TEMPORARY_PATH.sub(rf"\g<1>{folder}/", conf)
    conf = conf.replace(f" {TOKEN_SCRIPT};", f" {IMAGE_SOURCE / 'token.js'};")
    conf = UPSTREAM_SERVER.sub(r"\g<1>127.0.0.1\g<2>", conf)
    written = [line.split()[1] for line in conf.splitlines() if line.split()[0:1] == ["pid"]]
    written += [line.split()[1] for line in conf.splitlines() if "_temp_path " in line]
    assert len(written) == 6 and all(path.startswith(f"{folder}/") for path in written)
    assert TOKEN_SCRIPT not in conf
    return conf


def nginx_test(conf: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of `conf` in the router's base image."""
    path = folder / "nginx.conf"
    path.write_text(conf)
    return subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{folder}:{folder}",
            "-v",
            f"{IMAGE_SOURCE}:{IMAGE_SOURCE}:ro",
            ROUTER_BASE_IMAGE,
            "nginx",
            "-t",
            "-q",
            "-p",
            str(folder),
            "-e",
            "/dev/stderr",
            "-c",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.real
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_file_is_a_valid_nginx_configuration(case: str, tmp_path: Path) -> None:
    result = nginx_test(for_this_host(golden_path(case).read_text(), tmp_path), tmp_path)
    assert result.returncode == 0, f"nginx -t refused golden/{case}.conf:\n{result.stderr}"


@pytest.mark.real
def test_the_nginx_check_refuses_a_broken_configuration(tmp_path: Path) -> None:
    conf = for_this_host(golden_path("closed").read_text(), tmp_path)
    broken = conf.replace("server_tokens off;", "server_tokens sometimes;")
    assert broken != conf
    result = nginx_test(broken, tmp_path)
    assert result.returncode != 0
    assert 'invalid value "sometimes"' in result.stderr


def test_the_token_script_is_where_the_router_image_puts_it() -> None:
    dockerfile = (IMAGE_SOURCE / "Dockerfile").read_text()
    assert f"COPY token.js {TOKEN_SCRIPT}\n" in dockerfile
    assert f"js_import token from {TOKEN_SCRIPT};" in golden_path("aml_token_mirror").read_text()
