"""A workspace shared by two clones through an `azblob://` backend served by Azurite (Azure's
blob storage emulator, a real blob service on 127.0.0.1), with the passphrase shared through
`MODELPACK_PASSPHRASE_<WS>`.

Two copies of the checkout (tracked files and new ones, as a clone would be) get the same
committed stack file, `MODELPACK_BACKEND_URL_<WS>=azblob://<container>` and the AZURE_STORAGE_*
variables gocloud.dev's azureblob driver reads. Clone A runs `modelpack up` while clone B tries
its own: B fails with Pulumi's lock message and A's update is the only one recorded. Then B
calls the endpoint from the shared outputs and previews no changes; two `up`s started at the
same instant never run as two updates at once; the state exports as valid JSON; B destroys.
One stack in all (each real `up` costs 15-30 s here).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from modelpack.cli.errors import CliError
from modelpack.cli.pulumi_runner import PulumiRunner
from modelpack.cli.workspaces import backend_env_var, passphrase_env_var, resolve_workspace
from modelpack.image_registry import RegistrySpec
from tests.support.azurite import Azurite, running_azurite
from tests.support.checkout import copy_checkout
from tests.support.clones import ASSETS, clean_env, small_clone
from tests.support.deployed import leftovers
from tests.support.process_output import Output
from tests.support.project import free_port
from tests.support.small_workspace import ENDPOINT, REQUEST

pytestmark = pytest.mark.real

LOCK_DIR = ".pulumi/locks/"
PULUMI_LOCKED = "the stack is currently locked by 1 lock(s)"  # pkg/backend/diy/lock.go
CLI_LOCKED = "another update of this stack is running"  # cli/pulumi_runner.py


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with running_azurite(tmp_path_factory.mktemp("azurite")) as instance:
        yield instance
    assert instance.process.poll() is not None, "Azurite still running"


def wait_for_lock(azurite: Azurite, container: str, holder: Output, timeout_s: float) -> None:
    """Until the stack's lock blob exists (the `up` holds the lock), failing if `holder` ends."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if azurite.blob_names(container, LOCK_DIR):
            return
        if holder.process.poll() is not None:
            code, output = holder.finish()
            raise AssertionError(f"the up ended (exit {code}) before taking the lock:\n{output}")
        time.sleep(0.05)
    raise AssertionError(f"no lock blob under {LOCK_DIR} in {timeout_s:.0f} s")


def answered(output: str) -> object:
    """The answer `modelpack invoke` printed (a JSON line; its notes are other lines)."""
    for line in output.splitlines():
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    raise AssertionError(f"no JSON answer in:\n{output}")


def update_intervals(history: str) -> list[tuple[datetime, datetime, str]]:
    updates = json.loads(history)
    return sorted(
        (
            datetime.fromisoformat(update["startTime"]),
            datetime.fromisoformat(update["endTime"]),
            update["result"],
        )
        for update in updates
        if update["kind"] == "update"
    )


def test_azblob_refusals_come_before_anything_is_created(tmp_path: Path, azurite: Azurite) -> None:
    project = copy_checkout(tmp_path / "clone")
    ws = f"azerr{uuid.uuid4().hex[:6]}"
    missing = f"nothere{uuid.uuid4().hex[:6]}"
    env = clean_env(
        {
            **azurite.env,
            backend_env_var(ws): f"azblob://{missing}",
            passphrase_env_var(ws): "unused",
        }
    )
    runner = PulumiRunner(resolve_workspace(ws, root=project, environ=env), env)
    with pytest.raises(CliError) as raised:
        runner.lifecycle("up")
    assert f"has no container '{missing}'" in str(raised.value)
    assert f"az storage container create --name {missing}" in str(raised.value)

    container = f"wrongkey{uuid.uuid4().hex[:6]}"
    azurite.create_container(container)
    wrong_key = {**env, backend_env_var(ws): f"azblob://{container}", "AZURE_STORAGE_KEY": "a2V5"}
    runner = PulumiRunner(resolve_workspace(ws, root=project, environ=wrong_key), wrong_key)
    with pytest.raises(CliError) as raised:
        runner.lifecycle("up")
    assert "refused the shared key in AZURE_STORAGE_KEY" in str(raised.value)
    assert azurite.blob_names(container) == []  # nothing was written
    assert not (project / ".state").exists()


def test_two_clones_share_a_workspace_through_azurite(tmp_path: Path, azurite: Azurite) -> None:
    ws = f"azteam{uuid.uuid4().hex[:6]}"  # unique: it names containers, networks and images
    container = f"state-{ws}"
    backend = azurite.create_container(container)
    registry_port = free_port()
    shared_state = tmp_path / "host-state"  # the deployment host's model store and registry
    env = clean_env(
        {
            **azurite.env,
            backend_env_var(ws): backend,
            passphrase_env_var(ws): uuid.uuid4().hex,
        }
    )
    # The stack file both clones have, as committed: a relative asset folder in the clone.
    stack_file = (
        "config:\n"
        f"  modelpack:assets: {ASSETS}\n"
        f"  modelpack:stateDir: {shared_state}\n"
        '  modelpack:routerPort: "0"\n'
        f'  modelpack:registryPort: "{registry_port}"\n'
    )
    clones = [small_clone(tmp_path / f"clone-{n}", n, ws, stack_file, env) for n in ("a", "b")]
    a, b = clones
    request = str(a.root / ASSETS / "request.json")

    try:
        # Two ups at once, one after the other has the lock: B fails with Pulumi's message.
        first = a.start("up", "-w", ws)
        wait_for_lock(azurite, container, first, timeout_s=120)
        code, output, _ = b.run("up", "-w", ws)
        assert code != 0 and PULUMI_LOCKED in output and CLI_LOCKED in output, output
        code, output = first.finish()
        assert code == 0, output
        assert azurite.blob_names(container, LOCK_DIR) == []
        (only,) = update_intervals(b.pulumi("stack", "history", "--json", ws=ws))
        assert only[2] == "succeeded"

        # B sees A's deployment: its outputs (keys are secrets: the shared passphrase) and a
        # scoring URI that answers; a preview has nothing to change.
        answer, _ = b.ok("invoke", "-w", ws, "-n", ENDPOINT, "-r", request)
        assert answered(answer) == REQUEST  # score.py's run() answers the request body
        outputs = json.loads(b.pulumi("stack", "output", "--json", ws=ws))
        assert outputs["endpoints"][ENDPOINT]["scoring_uri"].startswith("http://127.0.0.1:")
        b.ok("preview", "-w", ws, "--", "--expect-no-changes")

        # Two ups started at the same instant: never two updates at once. Either one fails
        # with the lock message (or both do: each saw the other's lock), or they did not
        # overlap at all.
        both = [clone.start("up", "-w", ws) for clone in clones]
        results = [process.finish() for process in both]
        failed = [output for code, output in results if code != 0]
        for output in failed:
            assert PULUMI_LOCKED in output, output
        intervals = update_intervals(b.pulumi("stack", "history", "--json", ws=ws))
        assert len(intervals) == 1 + len(results) - len(failed)
        assert all(result == "succeeded" for _, _, result in intervals)
        for (_, end, _), (start, _, _) in zip(intervals, intervals[1:], strict=False):
            assert end <= start, f"two updates overlapped: {intervals}"
        print(f"ups started together: {len(failed)} of 2 refused by the lock")

        # The state is whole: it exports, holds the deployment, and nothing is pending; A
        # previews no changes and the endpoint still answers.
        assert azurite.blob_names(container, LOCK_DIR) == []
        state = json.loads(a.pulumi("stack", "export", ws=ws))
        resources = state["deployment"]["resources"]
        assert any(r["type"] == "modelpack:index:Deployment" for r in resources)
        assert not state["deployment"].get("pending_operations")
        a.ok("preview", "-w", ws, "--", "--expect-no-changes")
        answer, _ = a.ok("invoke", "-w", ws, "-n", ENDPOINT, "-r", request)
        assert answered(answer) == REQUEST
    finally:
        destroyed = b.run("destroy", "-w", ws, "--remove-stack")
    assert destroyed[0] == 0, destroyed[1]
    left = leftovers(ws, RegistrySpec(shared_state / "registry", registry_port))
    assert not any(left.values()), f"left behind by {ws}: {left}"
    stacks = azurite.blob_names(container, ".pulumi/stacks/")
    assert f".pulumi/stacks/modelpack/{ws}.json" not in stacks, stacks  # (pulumi keeps a .bak)
