"""How an `azblob://` backend's blob service is found from the environment (as gocloud.dev's
azureblob driver finds it), and the errors that name what is missing, before pulumi runs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from modelpack.cli import backends
from modelpack.cli.errors import CliError
from modelpack.cli.pulumi_runner import PulumiRunner
from modelpack.cli.workspaces import Workspace
from tests.support.project import free_port

KEY = "a2V5"
EMULATOR = {
    "AZURE_STORAGE_ACCOUNT": "acct",
    "AZURE_STORAGE_KEY": KEY,
    "AZURE_STORAGE_DOMAIN": "127.0.0.1:10000",
    "AZURE_STORAGE_PROTOCOL": "http",
}


def test_an_emulator_is_addressed_by_path_with_the_shared_key() -> None:
    service = backends.azblob_service("azblob://state/team", EMULATOR)
    assert (service.container, service.account) == ("state", "acct")
    assert service.url == "http://127.0.0.1:10000/acct"
    assert (service.host, service.port, service.emulator) == ("127.0.0.1", 10000, True)
    assert service.credentials == "the shared key in AZURE_STORAGE_KEY"
    assert "AZURE_STORAGE_DOMAIN=127.0.0.1:10000" in service.settings


def test_an_account_in_azure_is_addressed_by_host_with_default_credentials() -> None:
    service = backends.azblob_service("azblob://state", {"AZURE_STORAGE_ACCOUNT": "teamstate"})
    assert service.url == "https://teamstate.blob.core.windows.net"
    assert (service.host, service.port, service.emulator) == (
        "teamstate.blob.core.windows.net",
        443,
        False,
    )
    assert service.credentials.startswith("Azure's default credentials")


def test_url_parameters_win_over_the_environment() -> None:
    url = "azblob://state?storage_account=other&domain=localhost:10001&protocol=http"
    service = backends.azblob_service(url, EMULATOR)
    assert service.url == "http://localhost:10001/other"
    # gocloud.dev presents a shared key only with the account *variable*, which is set here.
    assert service.credentials == "the shared key in AZURE_STORAGE_KEY"


def test_the_local_emulator_flag_flips_any_domain_to_path_style() -> None:
    env = {**EMULATOR, "AZURE_STORAGE_DOMAIN": "azurite:10000"}
    assert backends.azblob_service("azblob://s", env).url == "http://acct.azurite:10000"
    env["AZURE_STORAGE_IS_LOCAL_EMULATOR"] = "true"
    assert backends.azblob_service("azblob://s", env).url == "http://azurite:10000/acct"


def test_a_connection_string_names_account_and_endpoint() -> None:
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=abc;"
        "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    )
    env = {"AZURE_STORAGE_CONNECTION_STRING": connection}
    service = backends.azblob_service("azblob://state", env)
    assert service.account == "devstoreaccount1"
    assert (service.url, service.port) == ("http://127.0.0.1:10000/devstoreaccount1", 10000)
    assert service.credentials == "the connection string in AZURE_STORAGE_CONNECTION_STRING"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "AZURE_STORAGE_ACCOUNT"),
        (
            {"AZURE_STORAGE_KEY": KEY, "AZURE_STORAGE_DOMAIN": "127.0.0.1:1"},
            "AZURE_STORAGE_ACCOUNT",
        ),
        ({**EMULATOR, "AZURE_STORAGE_KEY": ""}, "AZURE_STORAGE_KEY"),
        ({**EMULATOR, "AZURE_STORAGE_PROTOCOL": "ftp"}, "AZURE_STORAGE_PROTOCOL"),
    ],
)
def test_missing_or_wrong_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(CliError) as raised:
        backends.azblob_service("azblob://state", env)
    assert named in str(raised.value)


def test_an_unreachable_service_is_refused_naming_its_address() -> None:
    port = free_port()
    env = {**EMULATOR, "AZURE_STORAGE_DOMAIN": f"127.0.0.1:{port}"}
    with pytest.raises(CliError) as raised:
        backends.check_backend("azblob://state", env)
    text = str(raised.value)
    assert f"http://127.0.0.1:{port}/acct does not answer" in text
    assert f"AZURE_STORAGE_DOMAIN=127.0.0.1:{port}" in text
    assert "Azurite" in text


def test_a_listening_service_passes_and_other_backends_are_not_checked() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        env = {**EMULATOR, "AZURE_STORAGE_DOMAIN": f"127.0.0.1:{port}"}
        backends.check_backend("azblob://state", env)
    backends.check_backend("s3://bucket/prefix?region=eu-west-1", {})
    backends.check_backend("file:///nowhere", {})


def test_blob_service_refusals_in_pulumi_output_are_explained() -> None:
    missing = backends.explain_failure("azblob://state", EMULATOR, "ERROR CODE: ContainerNotFound")
    assert missing is not None and "has no container 'state'" in str(missing)
    assert "az storage container create --name state --account-name acct" in str(missing)
    refused = backends.explain_failure("azblob://state", EMULATOR, "AuthorizationFailure")
    assert refused is not None and "refused the shared key in AZURE_STORAGE_KEY" in str(refused)
    assert backends.explain_failure("file:///x", EMULATOR, "ContainerNotFound") is None
    assert backends.explain_failure("azblob://state", EMULATOR, "some other error") is None


def test_a_shared_backend_never_gets_a_passphrase_generated_in_one_clone(tmp_path: Path) -> None:
    workspace = Workspace(
        name="team-a",
        project_dir=tmp_path,
        backend_url="azblob://state",
        backend_source="$MODELPACK_BACKEND_URL_TEAM_A",
        state_dir=tmp_path / ".state" / "team-a",
    )
    runner = PulumiRunner(workspace, {"PATH": ""})
    with pytest.raises(CliError) as raised:
        runner.passphrase(create=True)
    assert "MODELPACK_PASSPHRASE_TEAM_A" in str(raised.value)
    assert not workspace.passphrase_file.exists()
    shared = PulumiRunner(workspace, {"PATH": "", "MODELPACK_PASSPHRASE_TEAM_A": "s3cret"})
    assert shared.passphrase(create=True).env == {"PULUMI_CONFIG_PASSPHRASE": "s3cret"}
