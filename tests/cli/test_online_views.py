"""What `show` and `list` print: what runs joined with what the YAML says, and the YAML's
changes no `up` deployed yet under `pending_changes`."""

from __future__ import annotations

from pathlib import Path

from modelpack.cli.endpoints import EndpointStatus, ReplicaStatus
from modelpack.cli.online_views import Context, deployment_view, endpoint_view
from modelpack.cli.outputs import EndpointOutputs
from modelpack.targets.base import WorkloadState
from tests.support.asset_workspace import example_workspace

EP = "sklearn-regression-online"


def running(traffic: dict[str, int], replicas: dict[str, list[str]]) -> EndpointStatus:
    """An endpoint as the stack outputs and the target describe it."""
    outputs = EndpointOutputs(
        name=EP,
        scoring_uri="http://127.0.0.1:9/score",
        swagger_uri="http://127.0.0.1:9/swagger.json",
        auth_mode="key",
        traffic=traffic,
        mirror_traffic={},
        deployments=replicas,
    )
    states = [
        ReplicaStatus(name, index, WorkloadState(container, "running"))
        for name, containers in replicas.items()
        for index, container in enumerate(containers)
    ]
    return EndpointStatus(outputs, WorkloadState("router", "running"), states)


def test_what_runs_and_what_the_yaml_says(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    status = running({"blue": 80, "green": 20}, {"blue": ["b0"], "green": ["g0"]})
    context = Context("dev", ws.current(), {EP: status}, ws.shown)
    shown = endpoint_view(context, EP)
    assert shown | {"file": None} == {
        "name": EP,
        "auth_mode": "key",
        "traffic": {"blue": 80, "green": 20},
        "mirror_traffic": {},
        "scoring_uri": "http://127.0.0.1:9/score",
        "openapi_uri": "http://127.0.0.1:9/swagger.json",
        "provisioning_state": "Succeeded",
        "deployments": ["blue", "green"],
        "workspace": "dev",
        "file": None,
    }
    assert shown["file"] == "ws/endpoint.yml"
    blue = deployment_view(context, EP, "blue")
    assert (blue["instance_type"], blue["instance_count"], blue["traffic"]) == (
        "Standard_DS3_v2",
        1,
        80,
    )
    assert blue["environment"] == "azureml:sklearn-regression-online-pkg@latest"
    assert blue["replicas"] == [{"name": "b0", "state": "running", "restarts": 0}]
    assert "pending_changes" not in blue and blue["file"] == "ws/blue.yml"


def test_changes_no_up_deployed_are_pending(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    # what runs: blue 100 %, one replica of blue, green not deployed; the YAML says 80/20
    status = running({"blue": 100}, {"blue": ["b0", "b1"]})
    context = Context("dev", ws.current(), {EP: status}, ws.shown)
    assert endpoint_view(context, EP)["pending_changes"] == {"traffic": {"blue": 80, "green": 20}}
    blue = deployment_view(context, EP, "blue")
    assert blue["instance_count"] == 2
    assert blue["pending_changes"] == {"instance_count": 1, "traffic": 80}
    green = deployment_view(context, EP, "green")
    assert (green["provisioning_state"], green["traffic"], green["replicas"]) == (
        "NotDeployed",
        20,
        [],
    )


def test_what_runs_without_yaml_is_pending_deletion(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    status = running({"blue": 80, "green": 20}, {"blue": ["b0"], "green": ["g0"], "old": ["o0"]})
    context = Context("dev", ws.current(), {EP: status}, ws.shown)
    old = deployment_view(context, EP, "old")
    assert old["pending_changes"] == {"deleted": True} and old["file"] is None
    assert "pending_changes" not in deployment_view(context, EP, "green")
    # a folder that cannot be loaded says nothing of what is pending
    unreadable = Context("dev", None, {EP: status}, ws.shown)
    assert "pending_changes" not in endpoint_view(unreadable, EP)
    assert "pending_changes" not in deployment_view(unreadable, EP, "old")
    assert endpoint_view(unreadable, EP)["traffic"] == {"blue": 80, "green": 20}
