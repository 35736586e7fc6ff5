"""The YAML the online-endpoint and online-deployment verbs write, checked with the real
asset loader on a copy of the example folder (no stack)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelpack.cli.errors import CliError
from modelpack.cli.online_edits import (
    create_deployment,
    create_endpoint,
    delete_deployment,
    delete_endpoint,
    update_deployment,
    update_endpoint,
)
from tests.support.asset_workspace import commit, example_workspace, folder_bytes

EP = "sklearn-regression-online"
OUTSIDE_DEPLOYMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
# Azure's deploy-with-packages sample, model-deployment.yml
name: regular_deployment
endpoint_name: hello-packages
model: azureml:sklearn-regression@latest
environment: azureml:sklearn-regression-env@latest
code_configuration:
  code: src
  scoring_script: score.py
instance_type: Standard_DS3_v2
instance_count: 1
"""


def test_traffic_update_sets_the_whole_table_as_az_does(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    edit = update_endpoint(ws, ws.current(), EP, {"green": 100}, None, [])
    assert edit.changes[0].detail == "traffic: blue 80 -> 0, green 20 -> 100"
    folder = commit(ws, edit)
    assert folder.endpoint(EP).traffic == {"blue": 0, "green": 100}
    assert (ws.folder / "endpoint.yml").read_text().endswith("traffic:\n  blue: 0\n  green: 100\n")


def test_mirror_traffic_and_set_edit_only_what_they_name(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    commit(ws, update_endpoint(ws, ws.current(), EP, {"blue": 100}, None, []))
    edit = update_endpoint(ws, ws.current(), EP, None, {"green": 10}, [("auth_mode", "aml_token")])
    folder = commit(ws, edit)
    endpoint = folder.endpoint(EP)
    assert (endpoint.mirror_traffic, endpoint.auth_mode) == ({"green": 10}, "aml_token")
    assert edit.changes[0].detail == ("mirror_traffic: green - -> 10; auth_mode: key -> aml_token")


def test_mirror_to_a_deployment_with_live_traffic_is_refused(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    edit = update_endpoint(ws, ws.current(), EP, None, {"green": 10}, [])
    with pytest.raises(CliError, match=r"ws/endpoint.yml: mirror_traffic.green: .*takes live"):
        edit.validate(ws.load)


def test_instance_count_and_set(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    edit = update_deployment(
        ws, ws.current(), EP, "green", 3, [("request_settings.max_queue_wait_ms", 100)]
    )
    folder = commit(ws, edit)
    green = folder.deployment(EP, "green")
    assert green.instance_count == 3 and green.request_settings.max_queue_wait_ms == 100
    text = (ws.folder / "green.yml").read_text()
    assert "instance_count: 3\nrequest_settings:\n  request_timeout_ms: 5000\n" in text
    assert "  max_queue_wait_ms: 100\nreadiness_probe:" in text  # in its mapping, order kept
    with pytest.raises(CliError, match="name cannot be changed by update"):
        update_deployment(ws, ws.current(), EP, "green", None, [("name", "x")])
    with pytest.raises(CliError, match="nothing to update"):
        update_deployment(ws, ws.current(), EP, "green", None, [])


@pytest.mark.parametrize(
    ("count", "message"),
    [(0, "must be greater than or equal to 1"), (-2, "must be greater than or equal to 1")],
)
def test_a_bad_instance_count_names_file_and_field(
    tmp_path: Path, count: int, message: str
) -> None:
    ws = example_workspace(tmp_path)
    before = folder_bytes(ws.folder)
    edit = update_deployment(ws, ws.current(), EP, "blue", count, [])
    with pytest.raises(CliError, match=f"ws/blue.yml: instance_count: {message}"):
        edit.validate(ws.load)
    assert folder_bytes(ws.folder) == before


def test_unknown_names_are_listed(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    with pytest.raises(CliError, match=r"no deployment 'red' \(deployments: blue, green\)"):
        update_deployment(ws, ws.current(), EP, "red", 2, [])
    with pytest.raises(CliError, match=rf"no endpoint 'nope' \(endpoints: {EP}\)"):
        update_endpoint(ws, ws.current(), "nope", {"blue": 100}, None, [])


def test_deleting_a_deployment_with_traffic_is_refused_then_allowed(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    with pytest.raises(CliError, match="takes 20% of endpoint") as raised:
        delete_deployment(ws, ws.current(), EP, "green")
    assert '--traffic "blue=100"' in str(raised.value)
    commit(ws, update_endpoint(ws, ws.current(), EP, {"blue": 100}, None, []))
    folder = commit(ws, delete_deployment(ws, ws.current(), EP, "green"))
    assert [d.name for d in folder.deployments] == ["blue"]
    assert not (ws.folder / "green.yml").exists()
    assert "green" not in (ws.folder / "endpoint.yml").read_text()


def test_deleting_an_endpoint_deletes_its_deployments_files(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    edit = delete_endpoint(ws, ws.current(), EP)
    assert sorted(str(c.path) for c in edit.changes) == ["blue.yml", "endpoint.yml", "green.yml"]
    folder = commit(ws, edit)
    assert folder.endpoints == [] and folder.deployments == []


def test_a_new_endpoint_then_azures_deployment_with_package(tmp_path: Path) -> None:
    """As Azure's deploy-with-packages script: `online-endpoint create -n`, then
    `online-deployment create --with-package -f model-deployment.yml -e <endpoint>`."""
    ws = example_workspace(tmp_path)
    commit(ws, create_endpoint(ws, ws.current(), "hello-packages", None, None, []))
    assert "auth_mode: key" in (ws.folder / "endpoint-hello-packages.yml").read_text()
    sample = tmp_path / "sample"
    (sample / "src").mkdir(parents=True)
    (sample / "src" / "score.py").write_text((ws.folder / "src" / "score.py").read_text())
    (sample / "model-deployment.yml").write_text(OUTSIDE_DEPLOYMENT)
    edit = create_deployment(
        ws, ws.current(), sample / "model-deployment.yml", "hello-packages", None, True, True, []
    )
    folder = commit(ws, edit)
    deployment = folder.deployment("hello-packages", "regular_deployment")
    assert deployment.package_model and deployment.package.implicit
    assert deployment.package.code_dir == ws.folder / "model-deployment" / "src"
    assert folder.endpoint("hello-packages").traffic == {"regular_deployment": 100}
    text = (ws.folder / "model-deployment.yml").read_text()
    assert text.startswith(OUTSIDE_DEPLOYMENT.splitlines(True)[0] + "# Azure's deploy")
    assert "endpoint_name: hello-packages\n" in text and "code: model-deployment/src\n" in text
    assert text.endswith("package_model: true\n")
    with pytest.raises(CliError, match="already has a deployment 'regular_deployment'"):
        create_deployment(
            ws, ws.current(), sample / "model-deployment.yml", "hello-packages", None, True,
            False, [],
        )  # fmt: skip


def test_a_deployment_for_an_unknown_endpoint_is_refused(tmp_path: Path) -> None:
    ws = example_workspace(tmp_path)
    sample = tmp_path / "d.yml"
    sample.write_text(OUTSIDE_DEPLOYMENT.replace("code: src", "code: ws/src"))
    before = folder_bytes(ws.folder)
    edit = create_deployment(ws, ws.current(), sample, None, None, False, False, [])
    with pytest.raises(CliError, match="ws/d.yml: endpoint_name: unknown endpoint 'hello-pack"):
        edit.validate(ws.load)
    assert folder_bytes(ws.folder) == before
