"""The az-style verbs through the real path: `modelpack <verb>` (the command's `main`) against
one deployed stack of the example (blue and green of one copy-mode package), real `pulumi up`,
real Docker, real HTTP through the endpoint's router, the workspace's real registry.

The tests share the stack and run in order: each starts from what the previous one left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from modelpack.cli.commands import main
from modelpack.cli.workspaces import backend_env_var
from modelpack.image_registry import manifest_exists, parse_reference
from tests.support.asset_workspace import folder_bytes
from tests.support.deployed import DeployedWorkspace, deployed_workspace
from tests.support.endpoint_client import EndpointClient
from tests.support.pulumi_cli import PASSPHRASE

pytestmark = pytest.mark.real

ENDPOINT = "sklearn-regression-online"
COMMENT = "# traffic is moved by the az-style verbs in tests/cli/test_az_verbs_real.py\n"
EXTRA_PACKAGE = "verbs-extra-pkg"


class Cli:
    """`modelpack ...` for the deployed stack, as a user's shell would run it."""

    def __init__(self, deployed: DeployedWorkspace, capsys: pytest.CaptureFixture[str]) -> None:
        self.deployed, self.capsys = deployed, capsys
        self.environ = {
            **os.environ,
            "MODELPACK_PROJECT": str(deployed.stack.project_dir),
            backend_env_var(deployed.name): deployed.stack.backend_dir.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        }

    def run(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*argv, "-w", self.deployed.name], environ=self.environ)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def ok(self, *argv: str) -> str:
        code, out, err = self.run(*argv)
        assert code == 0, f"modelpack {' '.join(argv)} exited {code}\n{out}\n{err}"
        return out

    def json(self, *argv: str):
        return json.loads(self.ok(*argv))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedWorkspace]:
    root = tmp_path_factory.mktemp("az-verbs")
    with deployed_workspace(root, "verbs", up=False) as workspace:
        endpoint_file = workspace.workspace / "endpoint.yml"
        endpoint_file.write_text(COMMENT + endpoint_file.read_text())
        workspace.up()
        yield workspace


@pytest.fixture
def cli(deployed: DeployedWorkspace, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(deployed, capsys)


def history_length(deployed: DeployedWorkspace) -> int:
    return len(json.loads(deployed.stack.run("stack", "history", "--json").stdout))


def served_by(deployed: DeployedWorkspace, requests: int) -> Counter[str]:
    client = EndpointClient(deployed.stack, deployed.workspace)
    counts: Counter[str] = Counter()
    with httpx.Client(timeout=30) as http:
        for _ in range(requests):
            answer = client.score(http)
            assert answer.status_code == 200, answer.text
            counts[answer.headers["azureml-model-deployment"]] += 1
    return counts


def replica_ids(deployed: DeployedWorkspace, deployment: str) -> list[str]:
    containers = docker.from_env().containers.list(
        filters={
            "label": [f"modelpack.stack={deployed.name}", f"modelpack.deployment={deployment}"]
        }
    )
    return sorted(container.id for container in containers)


def help_text(*verb: str) -> str:
    """`modelpack <verb> --help`, run as a user runs it, with its lines joined."""
    command = [sys.executable, "-m", "modelpack.cli", *verb, "--help"]
    return " ".join(
        subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    )


def test_help_names_what_each_verb_does() -> None:
    text = help_text("online-endpoint", "update")
    assert "--traffic" in text and "endpoint's YAML file" in text and "--no-up" in text
    text = help_text("model", "package")
    assert "no deployment changes" in text and "pulumi up --target" in text


def test_show_and_list_print_json_like_az_and_tables(cli: Cli) -> None:
    shown = cli.json("online-endpoint", "show", "-n", ENDPOINT)
    assert shown["name"] == ENDPOINT
    assert shown["traffic"] == {"blue": 80, "green": 20}
    assert shown["auth_mode"] == "key"
    assert shown["provisioning_state"] == "Succeeded"
    assert shown["scoring_uri"].startswith("http://127.0.0.1:")
    assert shown["file"].endswith("endpoint.yml")
    assert "pending_changes" not in shown
    uri = cli.ok("online-endpoint", "show", "-n", ENDPOINT, "--query", "scoring_uri", "-o", "tsv")
    assert uri.strip() == shown["scoring_uri"]

    table = cli.ok("online-endpoint", "list", "-o", "table").splitlines()
    assert table[0].split() == ["Name", "Auth", "Traffic", "Mirror", "Scoring", "URI", "State"]
    assert ENDPOINT in table[2] and "blue=80 green=20" in table[2] and "Succeeded" in table[2]

    deployments = cli.json("online-deployment", "list", "-e", ENDPOINT)
    assert [d["name"] for d in deployments] == ["blue", "green"]
    blue = deployments[0]
    assert (blue["endpoint_name"], blue["instance_type"], blue["instance_count"]) == (
        ENDPOINT,
        "Standard_F2s_v2",
        1,
    )
    assert blue["traffic"] == 80 and blue["provisioning_state"] == "Succeeded"
    assert [r["state"] for r in blue["replicas"]] == ["running"]
    table = cli.ok("online-deployment", "list", "-e", ENDPOINT, "-o", "table").splitlines()
    assert table[0].split()[:3] == ["Name", "Endpoint", "Instance"]
    assert table[2].split() == ["blue", ENDPOINT, "Standard_F2s_v2", "1", "80", "Succeeded"]


def test_bad_input_is_refused_naming_the_file_and_writes_and_deploys_nothing(
    cli: Cli, deployed: DeployedWorkspace, tmp_path: Path
) -> None:
    before, history = folder_bytes(deployed.workspace), history_length(deployed)
    broken = tmp_path / "broken.yml"
    broken.write_text("name: red\nendpoint_name: [unclosed\n")
    cases = [
        (
            ["online-endpoint", "update", "-n", ENDPOINT, "--traffic", "blue=90 green=20"],
            ["endpoint.yml: traffic: must add up to 100", "got 110"],
        ),
        (
            ["online-endpoint", "update", "-n", ENDPOINT, "--traffic", "blue=90 red=10"],
            ["endpoint.yml: traffic.red:", "no deployment 'red'"],
        ),
        (
            ["online-deployment", "update", "-e", ENDPOINT, "-n", "blue", "--instance-count", "0"],
            ["blue.yml: instance_count: must be greater than or equal to 1"],
        ),
        (
            ["online-deployment", "update", "-e", ENDPOINT, "-n", "blue", "--set", "x=1"],
            ["blue.yml: x:"],
        ),
        (
            [
                "online-deployment",
                "update",
                "-e",
                ENDPOINT,
                "-n",
                "purple",
                "--instance-count",
                "2",
            ],
            ["has no deployment 'purple'", "blue, green"],
        ),
        (
            ["online-deployment", "delete", "-e", ENDPOINT, "-n", "blue", "--yes"],
            ["takes 80% of endpoint", "endpoint.yml: traffic.blue", 'green=100"'],
        ),
        (
            ["online-deployment", "create", "-f", str(broken), "-e", ENDPOINT],
            [f"{broken}: invalid YAML at line 3, column 1"],
        ),
    ]
    for argv, expected in cases:
        code, out, err = cli.run(*argv)
        assert code == 1, (argv, out, err)
        for text in expected:
            assert text in err, (argv, err)
        assert "Traceback" not in err
    assert folder_bytes(deployed.workspace) == before
    assert history_length(deployed) == history  # no up ran


def test_no_up_only_edits_the_yaml(cli: Cli, deployed: DeployedWorkspace) -> None:
    history = history_length(deployed)
    shown = cli.json(
        "online-endpoint", "update", "-n", ENDPOINT, "--traffic", "blue=50 green=50", "--no-up"
    )
    assert shown["traffic"] == {"blue": 80, "green": 20}  # what runs
    assert shown["pending_changes"] == {"traffic": {"blue": 50, "green": 50}}
    text = (deployed.workspace / "endpoint.yml").read_text()
    assert text.startswith(COMMENT) and "  blue: 50\n  green: 50\n" in text
    assert history_length(deployed) == history
    # back as it runs: nothing pending
    cli.ok("online-endpoint", "update", "-n", ENDPOINT, "--traffic", "blue=80 green=20", "--no-up")
    assert "pending_changes" not in cli.json("online-endpoint", "show", "-n", ENDPOINT)


def test_traffic_update_moves_real_requests(cli: Cli, deployed: DeployedWorkspace) -> None:
    assert served_by(deployed, 100)["blue"] > 50  # 80/20 before
    shown = cli.json("online-endpoint", "update", "-n", ENDPOINT, "--traffic", "blue=10 green=90")
    assert shown["traffic"] == {"blue": 10, "green": 90}
    assert "pending_changes" not in shown
    text = (deployed.workspace / "endpoint.yml").read_text()
    assert text.startswith(COMMENT)  # the comment, key order and the rest stay
    assert text.index("name:") < text.index("auth_mode:") < text.index("traffic:")
    assert "  blue: 10\n  green: 90\n" in text
    counts = served_by(deployed, 200)
    print(f"after blue=10 green=90: {dict(counts)}")
    assert counts["green"] > 150 and counts["blue"] > 0, counts


def test_get_logs_returns_the_replica_lines(cli: Cli) -> None:
    lines = cli.ok("online-deployment", "get-logs", "-n", "green", "-e", ENDPOINT, "--lines", "5")
    lines = lines.splitlines()
    assert 0 < len(lines) <= 5


def test_instance_count_update_changes_the_replicas(cli: Cli, deployed: DeployedWorkspace) -> None:
    table = cli.ok(
        "online-deployment", "update", "-e", ENDPOINT, "-n", "blue", "--instance-count", "2",
        "-o", "table",
    )  # fmt: skip
    assert table.splitlines()[2].split() == [
        "blue", ENDPOINT, "Standard_F2s_v2", "2", "10", "Succeeded",
    ]  # fmt: skip
    assert len(replica_ids(deployed, "blue")) == 2
    shown = cli.json("online-deployment", "show", "-e", ENDPOINT, "-n", "blue")
    assert shown["instance_count"] == 2
    assert [r["state"] for r in shown["replicas"]] == ["running", "running"]
    assert "instance_count: 2\n" in (deployed.workspace / "blue.yml").read_text()


def test_a_failed_up_keeps_the_edit_and_the_old_deployment_serving(
    cli: Cli, deployed: DeployedWorkspace
) -> None:
    # Valid YAML that the Docker target refuses in the preview: the up fails.
    code, _, err = cli.run(
        "online-deployment", "update", "-e", ENDPOINT, "-n", "green",
        "--set", "scale_settings.type=target_utilization",
    )  # fmt: skip
    assert code == 1
    assert "target_utilization needs a target that autoscales" in err
    assert "stays written in" in err and "green.yml" in err and "keeps serving" in err
    assert (
        "scale_settings:\n  type: target_utilization"
        in (deployed.workspace / "green.yml").read_text()
    )
    assert served_by(deployed, 20).total() == 20
    cli.ok(
        "online-deployment", "update", "-e", ENDPOINT, "-n", "green",
        "--set", "scale_settings.type=default", "--no-up",
    )  # fmt: skip


def test_model_package_pushes_an_image_and_deploys_nothing(
    cli: Cli, deployed: DeployedWorkspace, tmp_path: Path
) -> None:
    source = tmp_path / "package"
    (source / "src").mkdir(parents=True)
    (source / "src" / "score.py").write_text((deployed.workspace / "src/score.py").read_text())
    (source / "package.yml").write_text(
        "$schema: http://azureml/sdk-2-0/ModelVersionPackage.json\n"
        "base_environment_source:\n"
        "  type: environment_asset\n"
        "  resource_id: azureml:sklearn-regression-env:1\n"
        f"target_environment: {EXTRA_PACKAGE}\n"
        "inferencing_server:\n"
        "  type: azureml_online\n"
        "  code_configuration:\n"
        "    code: src\n"
        "    scoring_script: score.py\n"
        "model_configuration:\n"
        "  mode: copy\n"
    )
    replicas = {name: replica_ids(deployed, name) for name in ("blue", "green")}
    endpoints = deployed.outputs()["endpoints"]
    built = cli.json(
        "model", "package", "-n", "sklearn-regression", "-v", "1",
        "--file", str(source / "package.yml"),
    )  # fmt: skip
    reference = parse_reference(built["image"])
    assert reference.port == deployed.registry_port
    assert built["digest"] == reference.digest and built["name"] == EXTRA_PACKAGE
    assert manifest_exists(reference.address, reference.repository, reference.digest)
    outputs = deployed.outputs()
    assert outputs["packages"][EXTRA_PACKAGE]["digest"] == built["image"]
    # nothing deployed: the same replica containers, the same endpoints
    assert {name: replica_ids(deployed, name) for name in ("blue", "green")} == replicas
    assert outputs["endpoints"] == endpoints
    copied = (deployed.workspace / "package.yml").read_text()
    assert "model: azureml:sklearn-regression:1" in copied and "code: package/src" in copied


def test_deleting_a_deployment_removes_its_file_and_replicas(
    cli: Cli, deployed: DeployedWorkspace
) -> None:
    cli.ok("online-endpoint", "update", "-n", ENDPOINT, "--traffic", "green=100")
    code, out, _ = cli.run("online-deployment", "delete", "-e", ENDPOINT, "-n", "blue", "--yes")
    assert (code, out) == (0, "")
    assert not (deployed.workspace / "blue.yml").exists()
    assert "blue" not in (deployed.workspace / "endpoint.yml").read_text()
    assert replica_ids(deployed, "blue") == []
    assert [d["name"] for d in cli.json("online-deployment", "list", "-e", ENDPOINT)] == ["green"]
    assert served_by(deployed, 10) == Counter({"green": 10})
