"""Faults against a deployed endpoint: an interrupted `up`, a replica whose init hangs, drift
made by hand, and a Docker daemon restart. Each ends with the endpoint serving and nothing of
the stack left behind that its state does not know."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.project import copy_example_assets, modelpack_stack

pytestmark = pytest.mark.real

ENDPOINT = "sklearn-regression-online"
SLOW_DEPLOYMENT = """\
name: slow
endpoint_name: sklearn-regression-online
model: azureml:sklearn-regression@latest
code_configuration:
  code: slow-src
  scoring_script: score.py
environment: azureml:sklearn-regression-env@latest
instance_type: Standard_F2s_v2
instance_count: 1
readiness_probe:
  initial_delay: 2
  period: 2
  failure_threshold: 4
"""
HANGING_SCORE = """\
import time


def init():
    print("loading a model that never finishes loading", flush=True)
    time.sleep(3600)


def run(raw_data):
    return raw_data
"""


class Endpoint:
    def __init__(self, stack, workspace: Path) -> None:
        self.stack, self.workspace = stack, workspace
        outputs = stack.outputs(show_secrets=True)
        self.url = outputs["endpoints"][ENDPOINT]["scoring_uri"]
        self.key = outputs["endpoint_keys"][ENDPOINT]["primary"]

    def serves(self, attempts: int = 1, pause_s: float = 1.0, deployment: str = "") -> bool:
        body = (self.workspace / "sample-request.json").read_bytes()
        headers = {"authorization": f"Bearer {self.key}", "content-type": "application/json"}
        if deployment:
            headers["azureml-model-deployment"] = deployment
        for _ in range(attempts):
            try:
                if httpx.post(self.url, content=body, headers=headers).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(pause_s)
        return False

    def containers(self) -> list:
        label = f"modelpack.stack={self.stack.name}"
        return docker.from_env().containers.list(all=True, filters={"label": label})

    def containers_in_state(self) -> set[str]:
        state = json.loads(self.stack.run("stack", "export").stdout)
        return {
            resource["id"]
            for resource in state["deployment"].get("resources", [])
            if resource["type"].endswith("docker:Container")
        }

    def assert_nothing_leaked(self) -> None:
        running = {container.id for container in self.containers()}
        assert running == self.containers_in_state()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("faults")
    workspace = copy_example_assets(root / "workspace")
    stack = modelpack_stack(root, f"flt{uuid.uuid4().hex[:6]}", workspace)
    stack.up()
    try:
        yield Endpoint(stack, workspace)
    finally:
        stack.destroy()
        label = f"modelpack.stack={stack.name}"
        assert docker.from_env().containers.list(all=True, filters={"label": label}) == []


def test_a_replica_whose_init_hangs_fails_the_up_with_its_logs(endpoint: Endpoint) -> None:
    (endpoint.workspace / "slow-src").mkdir()
    (endpoint.workspace / "slow-src" / "score.py").write_text(HANGING_SCORE)
    (endpoint.workspace / "slow.yml").write_text(SLOW_DEPLOYMENT)
    try:
        started = time.monotonic()
        result = endpoint.stack.run("up", "--yes", "--skip-preview", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "did not become ready: not ready after 10 s" in output
        logs = output[output.index("did not become ready") :][:3000]
        assert "loading a model that never finishes loading" in logs, logs
        assert time.monotonic() - started < 120
        assert endpoint.serves()
        endpoint.assert_nothing_leaked()
    finally:
        (endpoint.workspace / "slow.yml").unlink()
        endpoint.stack.up()


def wait_for_line(process: subprocess.Popen, text: str, timeout_s: float) -> str:
    """The output of `process` up to and including its first line holding `text` (all of it
    if the process ends first)."""
    seen: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in process.stdout:
            seen.append(line)
            if text in line:
                found.set()
                return
        found.set()

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout_s), f"no line with {text!r} within {timeout_s} s:\n{''.join(seen)}"
    return "".join(seen)


def test_an_interrupted_up_converges_on_the_next_up(endpoint: Endpoint) -> None:
    score = endpoint.workspace / "src" / "score.py"
    score.write_text(score.read_text() + "\n# interrupted edit\n")
    process = subprocess.Popen(
        [
            "pulumi",
            "up",
            "--yes",
            "--skip-preview",
            "--stack",
            endpoint.stack.name,
            "--non-interactive",
        ],
        cwd=endpoint.stack.project_dir,
        env=endpoint.stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Mid-way, on an event rather than a clock: the new package image is built and the first
    # replacement replica is being started beside the one that serves.
    seen = wait_for_line(process, "starting container", timeout_s=600)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=300)
    output = seen + output
    assert "starting container" in seen, output
    assert process.returncode != 0, output
    assert endpoint.serves(attempts=5)

    endpoint.stack.run("refresh", "--yes")
    endpoint.stack.up()
    assert endpoint.serves()
    endpoint.assert_nothing_leaked()
    endpoint.stack.run("preview", "--expect-no-changes")


def green_replica(endpoint: Endpoint):
    (replica,) = [
        c for c in endpoint.containers() if c.labels.get("modelpack.deployment") == "green"
    ]
    return replica


def live_spec(container) -> dict:
    """What a replica runs with: the inputs the provider owns and `refresh` reads back."""
    container.reload()
    host = container.attrs["HostConfig"]
    return {
        "status": container.status,
        "image": container.attrs["Config"]["Image"],
        "env": sorted(container.attrs["Config"]["Env"]),
        "nano_cpus": host["NanoCpus"],
        "memory": host["Memory"],
    }


def remove_it(replica) -> None:
    replica.remove(force=True)


def stop_it(replica) -> None:
    replica.stop()


def change_its_limits(replica) -> None:
    subprocess.run(
        ["docker", "update", "--cpus", "0.5", "--memory", "600m", "--memory-swap", "1200m"]
        + [replica.id],
        check=True,
        capture_output=True,
    )


def run_by_hand_in_its_place(replica, image: str | None = None, env: list[str] | None = None):
    """Remove the replica and start another container under its name, labels and network."""
    attrs = replica.attrs
    (network,) = attrs["NetworkSettings"]["Networks"]
    replica.remove(force=True)
    docker.from_env().containers.run(
        image or attrs["Config"]["Image"],
        name=replica.name,
        environment=env if env is not None else attrs["Config"]["Env"],
        labels=attrs["Config"]["Labels"],
        network=network,
        user=attrs["Config"]["User"] or None,
        detach=True,
    )


def replace_it_with_other_env(replica) -> None:
    run_by_hand_in_its_place(replica, env=[*replica.attrs["Config"]["Env"], "DRIFTED=by hand"])


def replace_it_with_another_image(replica) -> None:
    (blue,) = [
        c
        for c in docker.from_env().containers.list(
            filters={"label": [f"modelpack.stack={replica.labels['modelpack.stack']}"]}
        )
        if c.labels.get("modelpack.deployment") == "blue"
    ]
    assert blue.attrs["Config"]["Image"] != replica.attrs["Config"]["Image"]
    run_by_hand_in_its_place(replica, image=blue.attrs["Config"]["Image"])


DRIFTS = {
    # case: (what is done by hand to green's replica, what `refresh` reports of it)
    "removed": (remove_it, "deleted"),
    "stopped": (stop_it, "updated"),
    "limits-changed": (change_its_limits, "updated"),
    "env-changed": (replace_it_with_other_env, "updated"),
    "image-changed": (replace_it_with_another_image, "updated"),
}


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_drift_is_shown_by_refresh_and_repaired_by_up(endpoint: Endpoint, drift: str) -> None:
    make_drift, reported = DRIFTS[drift]
    before = green_replica(endpoint)
    wanted = live_spec(before)
    make_drift(before)

    refresh = endpoint.stack.run("refresh", "--yes", check=False)
    lines = [
        line for line in refresh.stdout.splitlines() if "sklearn-regression-online-green-0" in line
    ]
    assert any(reported in line for line in lines), refresh.stdout
    endpoint.stack.up()

    assert live_spec(green_replica(endpoint)) == wanted
    if drift == "stopped":  # started again in place: same container, name and address
        assert green_replica(endpoint).id == before.id
    assert endpoint.serves(deployment="green")
    endpoint.assert_nothing_leaked()
    # Nothing is left to repair, and reading back what `up` made shows no drift.
    endpoint.stack.run("preview", "--expect-no-changes")
    endpoint.stack.run("refresh", "--yes", "--expect-no-changes")


def test_deployments_come_back_after_a_docker_daemon_restart(endpoint: Endpoint) -> None:
    pid = int(
        subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()[0]
    )
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and subprocess.run(["pidof", "dockerd"]).returncode == 0:
        time.sleep(0.5)
    log = open(
        Path(os.environ.get("MODELPACK_CACHE", Path.home() / ".cache/modelpack"))
        / "logs"
        / "dockerd.log",
        "a",
    )
    subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    assert endpoint.serves(attempts=90), "the endpoint did not come back within 90 s"
    for container in endpoint.containers():
        assert container.status == "running", container.name
