"""Fast tests of the cli package: no Docker, and the Pulumi CLI only where marked."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from modelpack.cli.commands import build_parser, main
from modelpack.cli.endpoints import (
    DEPLOYMENT_HEADER,
    InvokeResult,
    invoke,
    render_statuses,
    require_success,
)
from modelpack.cli.errors import CliError
from modelpack.cli.keys import generation_path, generation_table, next_generation
from modelpack.cli.logs import pick_replica
from modelpack.cli.outputs import parse_outputs
from modelpack.cli.pulumi_runner import PulumiRunner, drop_encryption_salt, tool_env
from modelpack.cli.workspaces import (
    PASSPHRASE_FILE_ENV,
    backend_env_var,
    file_url_path,
    resolve_passphrase,
    resolve_workspace,
)

REPO = Path(__file__).resolve().parents[2]

RAW_OUTPUTS = {
    "endpoints": {
        "ep": {
            "scoring_uri": "http://127.0.0.1:1/score",
            "swagger_uri": "http://127.0.0.1:1/swagger.json",
            "auth_mode": "key",
            "traffic": {"blue": 80, "green": 20},
            "mirror_traffic": {},
            "deployments": {"blue": {"replicas": ["b0", "b1"]}, "green": {"replicas": ["g0"]}},
        }
    },
    "endpoint_keys": {"ep": {"primary": "p-key", "secondary": "s-key"}},
}


# --- workspaces ---------------------------------------------------------------------------------


def test_default_backend_is_a_folder_per_workspace(tmp_path: Path) -> None:
    workspace = resolve_workspace("dev", root=tmp_path, environ={})
    assert workspace.stack == "dev"
    assert workspace.backend_url == (tmp_path / ".state" / "dev" / "backend").as_uri()
    assert workspace.backend_source == "default"
    assert workspace.local_backend_dir == tmp_path / ".state" / "dev" / "backend"
    staging = resolve_workspace("staging", root=tmp_path, environ={})
    assert staging.backend_url != workspace.backend_url


def test_backend_from_workspaces_file_then_env_var(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "workspaces.yaml").write_text(
        "workspaces:\n  prod:\n    backend: s3://bucket/prod\n"
    )
    prod = resolve_workspace("prod", root=tmp_path, environ={})
    assert (prod.backend_url, prod.backend_source) == ("s3://bucket/prod", "stacks/workspaces.yaml")
    assert prod.local_backend_dir is None
    env = {"MODELPACK_BACKEND_URL_PROD": "file:///srv/prod"}
    prod = resolve_workspace("prod", root=tmp_path, environ=env)
    assert prod.backend_url == "file:///srv/prod"
    assert prod.backend_source == "$MODELPACK_BACKEND_URL_PROD"
    # other workspaces keep their default
    assert resolve_workspace("dev", root=tmp_path, environ=env).backend_source == "default"


def test_backend_env_var_names_and_bad_names() -> None:
    assert backend_env_var("dev") == "MODELPACK_BACKEND_URL_DEV"
    assert backend_env_var("my-team.eu") == "MODELPACK_BACKEND_URL_MY_TEAM_EU"
    assert file_url_path("file:///tmp/x%20y") == Path("/tmp/x y")
    assert file_url_path("s3://bucket") is None
    for bad in ("", "../prod", "a b", "-x"):
        with pytest.raises(CliError):
            resolve_workspace(bad, environ={})


def test_bad_workspaces_file_says_what_to_fix(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "workspaces.yaml").write_text("workspaces: [prod]\n")
    with pytest.raises(CliError, match="workspaces.yaml"):
        resolve_workspace("prod", root=tmp_path, environ={})


def test_stack_config_file_follows_stack_config_dir(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\nstackConfigDir: stacks\n")
    workspace = resolve_workspace("dev", root=tmp_path, environ={})
    assert workspace.stack_config_file == tmp_path / "stacks" / "Pulumi.dev.yaml"
    assert resolve_workspace("dev", root=REPO, environ={}).stack_config_file == (
        REPO / "stacks" / "Pulumi.dev.yaml"
    )


def test_passphrase_file_is_generated_once_with_mode_600(tmp_path: Path) -> None:
    workspace = resolve_workspace("dev", root=tmp_path, environ={})
    assert resolve_passphrase(workspace, {}, create=False) is None
    created = resolve_passphrase(workspace, {}, create=True)
    assert created is not None and created.created
    path = tmp_path / ".state" / "dev" / "passphrase"
    assert created.env == {PASSPHRASE_FILE_ENV: str(path)}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text()
    assert len(secret) >= 32 and secret.strip() == secret
    again = resolve_passphrase(workspace, {}, create=True)
    assert again is not None and not again.created and path.read_text() == secret
    other = resolve_passphrase(resolve_workspace("prod", root=tmp_path, environ={}), {}, True)
    assert other is not None and other.env[PASSPHRASE_FILE_ENV] != str(path)


def test_user_passphrase_wins_and_no_file_is_written(tmp_path: Path) -> None:
    workspace = resolve_workspace("dev", root=tmp_path, environ={})
    for variable in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        found = resolve_passphrase(workspace, {variable: "x"}, create=True)
        assert found is not None and found.env == {variable: "x"} and variable in found.source
    assert not (tmp_path / ".state").exists()


def test_each_workspace_reads_its_own_passphrase_variable(tmp_path: Path) -> None:
    environ = {
        "MODELPACK_PASSPHRASE_DEV": "dev-secret",
        "PULUMI_CONFIG_PASSPHRASE_FILE": "/run/secrets/prod-passphrase",
        "PATH": "/usr/bin",
    }
    dev = resolve_workspace("dev", root=tmp_path, environ=environ)
    found = resolve_passphrase(dev, environ, create=True)
    assert found is not None and found.source == "$MODELPACK_PASSPHRASE_DEV"
    env = PulumiRunner(dev, environ=environ).env(found)
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "dev-secret"
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in env  # the other workspace's file is not used
    prod = resolve_workspace("prod", root=tmp_path, environ=environ)
    assert (
        resolve_passphrase(prod, environ, create=False).source == "$PULUMI_CONFIG_PASSPHRASE_FILE"
    )


def test_runner_env_pins_the_workspace_backend(tmp_path: Path) -> None:
    workspace = resolve_workspace("dev", root=tmp_path, environ={})
    runner = PulumiRunner(
        workspace, environ={"PATH": "/usr/bin", "PULUMI_BACKEND_URL": "file:///elsewhere"}
    )
    env = runner.env(resolve_passphrase(workspace, {}, create=True))
    assert env["PULUMI_BACKEND_URL"] == workspace.backend_url
    assert env[PASSPHRASE_FILE_ENV] == str(workspace.passphrase_file)
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert str(REPO / ".venv" / "bin") in env["PATH"].split(os.pathsep)
    assert tool_env({"PATH": "/x", "PULUMI_HOME": "/h"})["PULUMI_HOME"] == "/h"


def test_encryption_salt_is_dropped_only_without_secure_values(tmp_path: Path) -> None:
    plain = tmp_path / "Pulumi.dev.yaml"
    plain.write_text("config:\n  modelpack:workspace: w\nencryptionsalt: v1:abc\n")
    assert drop_encryption_salt(plain)
    assert plain.read_text() == "config:\n  modelpack:workspace: w\n"
    assert not drop_encryption_salt(plain)
    secret = tmp_path / "Pulumi.prod.yaml"
    text = "config:\n  modelpack:token:\n    secure: v1:xyz\nencryptionsalt: v1:abc\n"
    secret.write_text(text)
    assert not drop_encryption_salt(secret)
    assert secret.read_text() == text


# --- keys ---------------------------------------------------------------------------------------


def test_key_generation_config() -> None:
    assert generation_table({}) == {}
    config = {
        "modelpack:keyGenerations": {
            "value": '{"ep":{"primary":2}}',
            "objectValue": {"ep": {"primary": 2}},
            "secret": False,
        }
    }
    table = generation_table(config)
    assert table == {"ep": {"primary": 2}}
    assert next_generation(table, "ep", "primary") == 3
    assert next_generation(table, "ep", "secondary") == 1
    assert next_generation(table, "other", "primary") == 1
    as_string = {"modelpack:keyGenerations": {"value": '{"ep": {"secondary": "4"}}'}}
    assert generation_table(as_string) == {"ep": {"secondary": 4}}
    assert (
        generation_path("sklearn-regression-online", "secondary")
        == 'modelpack:keyGenerations["sklearn-regression-online"].secondary'
    )
    with pytest.raises(CliError):
        generation_table({"modelpack:keyGenerations": {"value": "[1, 2]"}})
    with pytest.raises(CliError):
        next_generation(table, "ep", "tertiary")


# --- outputs, logs, list ------------------------------------------------------------------------


def test_parse_outputs_and_lookups() -> None:
    outputs = parse_outputs("dev", RAW_OUTPUTS)
    endpoint = outputs.endpoint("ep")
    assert endpoint.keys is not None and endpoint.keys.get("secondary") == "s-key"
    assert endpoint.deployments == {"blue": ["b0", "b1"], "green": ["g0"]}
    assert endpoint.traffic == {"blue": 80, "green": 20}
    hidden = parse_outputs("dev", {**RAW_OUTPUTS, "endpoint_keys": "[secret]"})
    assert hidden.endpoint("ep").keys is None
    with pytest.raises(CliError, match="endpoints: ep"):
        outputs.endpoint("nope")
    with pytest.raises(CliError, match="no endpoints deployed"):
        parse_outputs("dev", {}).endpoint("ep")
    with pytest.raises(CliError, match="deployments: blue, green"):
        endpoint.deployment("red", "dev")


def test_pick_replica() -> None:
    assert pick_replica(["b0", "b1"], None) == (0, "b0")
    assert pick_replica(["b0", "b1"], "1") == (1, "b1")
    assert pick_replica(["b0", "b1"], "b1") == (1, "b1")
    with pytest.raises(CliError, match="0 \\(b0\\), 1 \\(b1\\)"):
        pick_replica(["b0", "b1"], "2")


def test_render_without_endpoints_says_how_to_deploy() -> None:
    assert "modelpack up --workspace dev" in render_statuses("dev", [])


# --- invoke against a stub endpoint -------------------------------------------------------------


class _Stub(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        _Stub.seen.append(headers)
        if headers.get("authorization") != "Bearer p-key":
            status, answer, served = 401, b'{"error": "missing or invalid key"}', None
        else:
            served = headers.get(DEPLOYMENT_HEADER, "blue")
            status, answer = 200, json.dumps({"echo": json.loads(body)}).encode()
        self.send_response(status)
        if served:
            self.send_header(DEPLOYMENT_HEADER, served)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub_endpoint() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/score"
    server.shutdown()
    server.server_close()


def test_invoke_sends_key_and_deployment_header(stub_endpoint: str) -> None:
    raw = json.loads(json.dumps(RAW_OUTPUTS))
    raw["endpoints"]["ep"]["scoring_uri"] = stub_endpoint
    endpoint = parse_outputs("dev", raw).endpoint("ep")
    result = invoke(endpoint, b'{"data": [[1]]}', "dev")
    assert (result.status, result.deployment) == (200, "blue")
    assert result.json() == {"echo": {"data": [[1]]}}
    assert _Stub.seen[-1]["authorization"] == "Bearer p-key"
    assert DEPLOYMENT_HEADER not in _Stub.seen[-1]
    result = invoke(endpoint, b"{}", "dev", deployment="green")
    assert result.deployment == "green" and _Stub.seen[-1][DEPLOYMENT_HEADER] == "green"
    refused = invoke(endpoint, b"{}", "dev", key="s-key")
    assert refused.status == 401 and not refused.ok
    with pytest.raises(CliError, match="answered 401") as error:
        require_success(refused, endpoint, "dev", None)
    assert "keys show" in (error.value.next_step or "")


def test_invoke_unreachable_endpoint_says_what_next() -> None:
    endpoint = parse_outputs("dev", RAW_OUTPUTS).endpoint("ep")
    with pytest.raises(CliError, match="could not reach") as error:
        invoke(endpoint, b"{}", "dev", timeout=2)
    assert "modelpack list" in (error.value.next_step or "")


def test_require_success_hints_logs_for_a_failing_deployment() -> None:
    endpoint = parse_outputs("dev", RAW_OUTPUTS).endpoint("ep")
    with pytest.raises(CliError) as error:
        require_success(InvokeResult(502, "bad gateway", "green"), endpoint, "dev", None)
    assert "logs --workspace dev --name ep --deployment-name green" in (error.value.next_step or "")
    ok = InvokeResult(200, "[1]", "blue")
    assert require_success(ok, endpoint, "dev", None) is ok


# --- arguments ----------------------------------------------------------------------------------


def test_argument_parsing() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["invoke", "-w", "prod", "--name", "ep", "--deployment-name", "green",
         "--request-file", "r.json"]
    )  # fmt: skip
    assert (args.verb, args.workspace, args.name, args.deployment_name) == (
        "invoke", "prod", "ep", "green"
    )  # fmt: skip
    assert args.request_file == Path("r.json")
    args = parser.parse_args(["up", "--", "--target", "urn:x"])
    assert (args.workspace, args.pulumi_args) == ("dev", ["--target", "urn:x"])
    args = parser.parse_args(["keys", "regenerate", "--name", "ep", "--key-type", "secondary"])
    assert (args.keys_verb, args.key_type, args.apply) == ("regenerate", "secondary", True)
    args = parser.parse_args(["logs", "-n", "ep", "-d", "blue", "--lines", "5", "-i", "1"])
    assert (args.lines, args.instance) == (5, "1")
    assert parser.parse_args(["list", "--json", "--workspace-name", "staging"]).workspace == (
        "staging"
    )
    for bad in (
        ["keys", "regenerate", "--name", "ep", "--key-type", "tertiary"],
        ["invoke", "--name", "ep"],
        ["logs", "-n", "ep", "-d", "blue", "--lines", "-1"],
        ["frobnicate"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_main_reports_errors_with_a_next_step(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["invoke", "--name", "ep", "--request-file", "/nonexistent.json"])
    assert code == 1
    err = capsys.readouterr().err
    assert "error: request file /nonexistent.json does not exist" in err
    assert "next:" in err


# --- a real Pulumi CLI, no Docker ---------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("pulumi", path=tool_env(os.environ)["PATH"]) is None,
    reason="the Pulumi CLI is not installed (make setup)",
)
def test_new_stack_gets_its_own_backend_and_passphrase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh machine: no state, a committed stack file carrying someone else's salt."""
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    salt = "v1:w6LJ6KMZz90=:v1:lIypYMXiFN720MqH:y1Mni5Kqt+/03/BUGjEMiH9CsJ4xrA=="
    committed = f"config:\n  modelpack:workspace: assets/example\nencryptionsalt: {salt}\n"
    (tmp_path / "stacks" / "Pulumi.cliunit.yaml").write_text(committed)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG_PASS")}
    runner = PulumiRunner(resolve_workspace("cliunit", root=tmp_path, environ=environ), environ)
    assert not runner.stack_exists()
    with pytest.raises(CliError, match="run `modelpack up --workspace cliunit` first"):
        runner.outputs(show_secrets=True)
    assert runner.ensure_stack()
    captured = capsys.readouterr()
    assert "generated a passphrase" in captured.err
    assert (tmp_path / ".state" / "cliunit" / "backend" / ".pulumi").is_dir()
    assert stat.S_IMODE((tmp_path / ".state/cliunit/passphrase").stat().st_mode) == 0o600
    stack_file = (tmp_path / "stacks" / "Pulumi.cliunit.yaml").read_text()
    assert "modelpack:workspace" in stack_file and "lIypYMXiFN720MqH" not in stack_file
    # a second runner finds the stack and its passphrase again
    again = PulumiRunner(resolve_workspace("cliunit", root=tmp_path, environ=environ), environ)
    assert again.stack_exists() and not again.ensure_stack()
    runner.set_config_int(generation_path("ep-1", "primary"), 2)
    assert generation_table(again.config()) == {"ep-1": {"primary": 2}}
    assert again.outputs(show_secrets=True) == {}
    # a wrong passphrase is named as such
    wrong = PulumiRunner(
        resolve_workspace("cliunit", root=tmp_path, environ=environ),
        {**environ, "PULUMI_CONFIG_PASSPHRASE": "not-it"},
    )
    runner.capture("config", "set", "--secret", "modelpack:probe", "hush")
    with pytest.raises(CliError, match="not the one the stack was created with"):
        wrong.capture("config", "--json", "--show-secrets")
