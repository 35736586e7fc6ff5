"""A stack whose containers were all stopped behind modelpack's back (by hand, or by a host
that went down) is brought back by the next `up`, with no `refresh` first: with nothing else
changed, and with a new package that replaces every replica while the router is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.deployed import DeployedWorkspace, deployed_workspace
from tests.support.endpoint_client import EndpointClient

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    with deployed_workspace(tmp_path_factory.mktemp("stopped"), "stopped") as stack:
        yield stack


def stop_everything(stack: DeployedWorkspace) -> list[str]:
    containers = docker.from_env().containers.list(
        filters={"label": f"modelpack.stack={stack.name}"}
    )
    for container in containers:
        container.stop(timeout=5)
    return sorted(container.name for container in containers)


def answers(stack: DeployedWorkspace) -> dict[str, int]:
    endpoint = EndpointClient(stack.stack, stack.workspace)
    with httpx.Client(timeout=30) as http:
        return {
            deployment: endpoint.score(http, **{"azureml-model-deployment": deployment}).status_code
            for deployment in ("blue", "green")
        }


def running(stack: DeployedWorkspace) -> list[str]:
    containers = docker.from_env().containers.list(
        all=True, filters={"label": f"modelpack.stack={stack.name}"}
    )
    return sorted(c.name for c in containers if c.status == "running")


def test_preview_shows_the_stopped_containers_and_up_starts_them(deployed):
    stopped = stop_everything(deployed)
    assert len(stopped) == 3  # the router, blue's replica, green's replica
    # The preview already says what `up` will do: start the three again.
    updates = {
        step["urn"].rsplit("::", 1)[1]
        for step in deployed.preview()["steps"]
        if step["op"] == "update"
    }
    assert {"sklearn-regression-online-router", "sklearn-regression-online-blue-0"} <= updates
    assert "sklearn-regression-online-green-0" in updates, updates
    deployed.stack.up()
    assert running(deployed) == stopped
    assert answers(deployed) == {"blue": 200, "green": 200}
    deployed.stack.run("preview", "--expect-no-changes")


def test_a_new_package_deploys_while_everything_was_stopped(deployed):
    stop_everything(deployed)
    score = Path(deployed.workspace) / "src" / "score.py"
    score.write_text(score.read_text() + "\n# a new version of the scoring code\n")
    deployed.stack.up()
    assert answers(deployed) == {"blue": 200, "green": 200}
    deployed.stack.run("preview", "--expect-no-changes")
