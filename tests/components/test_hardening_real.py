"""Replica hardening, seen from inside the running containers of a real stack: the example's
replicas (our inference server, several workers), a custom-server replica whose image runs as
root, and the endpoint's nginx router. Every process in each has no capabilities (not even in
its bounding set) and no_new_privs; the root filesystem is read-only, /tmp is a writable
scratch tmpfs, and the number of processes is capped."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.deployed import DeployedWorkspace, deployed_workspace, short_id
from tests.support.project import copy_portable_assets

pytestmark = pytest.mark.real

ENDPOINT = "sklearn-regression-online"

# What a container's processes and filesystem allow, from inside it. A shell script: the router's
# image (nginx) has no Python. Each section starts with a "== <what>" line.
PROBE = r"""
for status in /proc/[0-9]*/status; do
    echo "== process ${status%/status}"
    cat "$status" 2>/dev/null
done
for path in /var/tmp/modelpack-probe /modelpack-probe /tmp/modelpack-probe; do
    echo "== write $path"
    if (echo probe > "$path") 2>&1; then rm -f "$path"; echo ok; fi
done
echo "== pids_max"
for limit in /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max; do
    if [ -r "$limit" ]; then cat "$limit"; fi
done
"""
STATUS_FIELDS = ("Name", "Uid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs")


def parse_probe(output: str) -> dict:
    """PROBE's output as {"processes": {pid: status fields}, "write_var_tmp" / "write_root" /
    "write_tmp": 0 or the errno the write failed with, "pids_max": the cgroup's limit}."""
    sections: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith("== "):
            current = sections.setdefault(line[3:], [])
        else:
            current.append(line)
    processes = {}
    for what, lines in sections.items():
        if what.startswith("process /proc/") and lines:
            fields = dict(line.partition(":")[::2] for line in lines)
            processes[what.rsplit("/", 1)[1]] = {k: fields[k].strip() for k in STATUS_FIELDS}
    return {
        "processes": processes,
        "write_var_tmp": write_result(sections["write /var/tmp/modelpack-probe"]),
        "write_root": write_result(sections["write /modelpack-probe"]),
        "write_tmp": write_result(sections["write /tmp/modelpack-probe"]),
        "pids_max": (sections["pids_max"] or [None])[0],
    }


def write_result(lines: list[str]) -> int:
    """0 for a write that worked, else the errno whose message the shell printed."""
    if lines == ["ok"]:
        return 0
    for number in (errno.EROFS, errno.EACCES):
        if any(line.endswith(os.strerror(number)) for line in lines):
            return number
    raise AssertionError(f"the probe's write gave neither ok nor a known error: {lines}")


# A server of the custom kind, as an image of its own would bring: it runs as root and writes
# nothing but scratch files to /tmp.
CUSTOM_SERVER = """\
import http.server, json, os, tempfile

class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.answer({"ready": True})

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        with tempfile.TemporaryFile() as scratch:
            scratch.write(b"scratch")
        self.answer({"uid": os.getuid()})

http.server.ThreadingHTTPServer(("0.0.0.0", 8501), Handler).serve_forever()
"""
CUSTOM_ASSETS = {
    "linear-model.yml": "name: linear\npath: linear.json\n",
    "linear-env.yml": "name: linear-server-env\nimage: {image}\n",
    "linear-package.yml": (
        "$schema: http://azureml/sdk-2-0/ModelVersionPackage.json\n"
        "target_environment_name: linear-custom-pkg\n"
        "model: azureml:linear@latest\n"
        "base_environment_source:\n  type: environment_asset\n"
        "  resource_id: azureml:linear-server-env@latest\n"
        "inferencing_server:\n"
        "  type: custom\n"
        "  inference_configuration:\n"
        "    scoring_route: {port: 8501, path: /score}\n"
        "    liveness_route: {port: 8501, path: /}\n"
        "    readiness_route: {port: 8501, path: /}\n"
        "model_configuration:\n  mode: copy\n  mount_path: /models\n"
    ),
    "custom.yml": (
        "name: custom\n"
        f"endpoint_name: {ENDPOINT}\n"
        "environment: azureml:linear-custom-pkg@latest\n"
        "instance_type: Standard_F2s_v2\n"
        "instance_count: 1\n"
    ),
}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    root = tmp_path_factory.mktemp("hardening")
    client = docker.from_env()
    context = root / "custom-server"
    context.mkdir()
    (context / "server.py").write_text(CUSTOM_SERVER)
    (context / "Dockerfile").write_text(
        'FROM python:3.11-slim\nCOPY server.py /srv/server.py\nCMD ["python3", "/srv/server.py"]\n'
    )
    image = f"modelpack-test/root-server:{short_id()}"
    client.images.build(path=str(context), tag=image, pull=False, rm=True)
    try:
        workspace = copy_portable_assets(root / "workspace")
        (workspace / "linear.json").write_text(json.dumps({"coef": [1.0], "intercept": 0.0}))
        for name, text in CUSTOM_ASSETS.items():
            (workspace / name).write_text(text.replace("{image}", image))
        portable = workspace / "package-azure-app.yml"  # one model of two now: say which
        portable.write_text(portable.read_text() + "model: azureml:sklearn-regression@latest\n")
        with deployed_workspace(root, "hard", workspace) as stack:
            yield stack
    finally:
        client.images.remove(image, force=True)


def containers(deployed: DeployedWorkspace) -> dict[str, docker.models.containers.Container]:
    """Every container of the stack, by deployment name (`router` for the router)."""
    found = docker.from_env().containers.list(filters={"label": f"modelpack.stack={deployed.name}"})
    return {c.labels.get("modelpack.deployment") or c.labels["modelpack.role"]: c for c in found}


def probe(container) -> dict:
    code, output = container.exec_run(["sh", "-c", PROBE])
    assert code == 0, output.decode(errors="replace")
    return parse_probe(output.decode(errors="replace"))


@pytest.fixture(scope="module")
def probes(deployed: DeployedWorkspace) -> dict[str, dict]:
    found = containers(deployed)
    assert set(found) == {"blue", "green", "custom", "router"}, found
    seen = {name: probe(container) for name, container in found.items()}
    names = {name: {p["Name"] for p in found["processes"].values()} for name, found in seen.items()}
    assert "nginx" in names["router"] and "python" in names["blue"], names
    return seen


def test_replicas_and_router_run_with_no_capabilities_and_no_new_privileges(probes) -> None:
    for name, seen in probes.items():
        for pid, process in seen["processes"].items():
            where = f"{name}: pid {pid} ({process['Name']}, uid {process['Uid'].split()[0]})"
            assert int(process["CapEff"], 16) == 0, where
            assert int(process["CapPrm"], 16) == 0, where
            assert int(process["CapBnd"], 16) == 0, where
            assert process["NoNewPrivs"] == "1", where


def test_the_custom_server_keeps_its_own_user_without_privileges(probes, deployed) -> None:
    servers = [p for p in probes["custom"]["processes"].values() if p["Name"] == "python3"]
    assert servers and all(p["Uid"].split()[0] == "0" for p in servers)
    ours = [p for p in probes["blue"]["processes"].values() if p["Name"].startswith("python")]
    assert ours and all(p["Uid"].split()[0] == "1000" for p in ours)
    assert containers(deployed)["custom"].attrs["HostConfig"]["Privileged"] is False


def test_root_filesystem_is_read_only_with_tmp_as_scratch(probes) -> None:
    for name, seen in probes.items():
        assert seen["write_var_tmp"] == errno.EROFS, name
        assert seen["write_root"] in (errno.EROFS, errno.EACCES), name
        assert seen["write_tmp"] == 0, name
    # root could write anywhere on a writable filesystem: only read-only stops it
    assert probes["custom"]["write_root"] == errno.EROFS


def test_every_container_has_a_pids_limit(probes, deployed) -> None:
    for name, container in containers(deployed).items():
        host_config = container.attrs["HostConfig"]
        assert host_config["CapDrop"] == ["ALL"], name
        assert not host_config["CapAdd"], name
        assert any(opt.startswith("no-new-privileges") for opt in host_config["SecurityOpt"]), name
        assert host_config["ReadonlyRootfs"] is True, name
        assert "/tmp" in host_config["Tmpfs"], name
        limit = host_config["PidsLimit"]
        assert limit and limit > 0, name
        assert probes[name]["pids_max"] == str(limit), name


def test_hardened_replicas_still_serve_through_the_router(deployed: DeployedWorkspace) -> None:
    endpoint = deployed.endpoint()
    body = (Path(deployed.workspace) / "sample-request.json").read_bytes()
    headers = {"authorization": f"Bearer {endpoint.keys.primary}"}
    for deployment in ("blue", "green", "custom"):
        answer = httpx.post(
            endpoint.scoring_uri,
            content=body,
            headers={**headers, "azureml-model-deployment": deployment},
            timeout=30,
        )
        assert answer.status_code == 200, (deployment, answer.text)
    assert answer.json() == {"uid": 0}
