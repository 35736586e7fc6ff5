"""What a workspace's state backend needs before pulumi runs against it.

A `file://` backend needs nothing (its folder is created on first use). An `azblob://<container>`
backend is Pulumi's DIY backend on Azure blob storage, opened by gocloud.dev's azureblob driver,
which reads its account, credentials and service address from the environment (and from the
URL's query, which wins):

- `AZURE_STORAGE_ACCOUNT` (or `?storage_account=`): the storage account; required unless a
  connection string names it;
- credentials: `AZURE_STORAGE_KEY` (shared key), `AZURE_STORAGE_SAS_TOKEN`,
  `AZURE_STORAGE_CONNECTION_STRING` / `AZURE_STORAGEBLOB_CONNECTIONSTRING`, else Azure's
  default credential chain (`az login`, a managed identity, `AZURE_CLIENT_ID`...);
- the service address: `AZURE_STORAGE_DOMAIN` (`?domain=`, default `blob.core.windows.net`),
  `AZURE_STORAGE_PROTOCOL` (`?protocol=`, default https) and `AZURE_STORAGE_IS_LOCAL_EMULATOR`
  (`?localemu=`): an emulator such as Azurite is addressed as `<protocol>://<domain>/<account>`,
  as is any domain starting with 127.0.0.1 or localhost; an account in Azure as
  `<protocol>://<account>.<domain>`.

`check_backend` refuses, before anything is created, an azblob backend with no account, a local
emulator with no shared key, or a blob service that does not answer; `explain_failure` turns
the blob service's refusals in pulumi's output (no such container, credentials refused) into
errors saying what to do. Other backends (`s3://`, `gs://`) are left to pulumi's own messages.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from .errors import CliError

AZBLOB_SCHEME = "azblob"
ACCOUNT_ENV = "AZURE_STORAGE_ACCOUNT"
KEY_ENV = "AZURE_STORAGE_KEY"
SAS_TOKEN_ENV = "AZURE_STORAGE_SAS_TOKEN"
CONNECTION_STRING_ENVS = ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGEBLOB_CONNECTIONSTRING")
DOMAIN_ENV = "AZURE_STORAGE_DOMAIN"
PROTOCOL_ENV = "AZURE_STORAGE_PROTOCOL"
LOCAL_EMULATOR_ENV = "AZURE_STORAGE_IS_LOCAL_EMULATOR"
DEFAULT_DOMAIN = "blob.core.windows.net"
CONNECT_TIMEOUT_S = 5.0
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}  # what Go's strconv.ParseBool takes as true


@dataclass(frozen=True)
class BlobService:
    """Where an azblob backend's container lives, as gocloud.dev will address it."""

    container: str
    account: str
    url: str
    """The service URL (`http://127.0.0.1:10000/devstoreaccount1`, `https://acct.blob.core...`)."""
    host: str
    port: int
    emulator: bool
    credentials: str
    """Which credentials pulumi will present, for messages."""
    settings: str
    """The variables (or URL parameters) that decided the address, for messages."""


def _connection_string(environ: Mapping[str, str]) -> tuple[str, dict[str, str]] | None:
    for variable in CONNECTION_STRING_ENVS:
        if environ.get(variable):
            parts = dict(part.split("=", 1) for part in environ[variable].split(";") if "=" in part)
            return variable, parts
    return None


def azblob_service(backend_url: str, environ: Mapping[str, str]) -> BlobService:
    """The blob service of an `azblob://<container>[/<prefix>]` backend; CliError when the
    environment does not say enough to reach it."""
    parsed = urlparse(backend_url)
    query = {name: values[-1] for name, values in parse_qs(parsed.query).items()}
    connection = _connection_string(environ)
    conn_parts = connection[1] if connection else {}

    def setting(param: str, variable: str, default: str = "") -> tuple[str, str]:
        if param in query:
            return query[param], f"?{param}={query[param]}"
        if environ.get(variable):
            return environ[variable], f"{variable}={environ[variable]}"
        return default, ""

    account, account_from = setting(
        "storage_account", ACCOUNT_ENV, conn_parts.get("AccountName", "")
    )
    if not account:
        raise CliError(
            f"the backend {backend_url} is Azure blob storage, but no storage account is set",
            f"set {ACCOUNT_ENV} to the storage account (for Azurite, one of its accounts, "
            "e.g. devstoreaccount1) and its key in "
            f"{KEY_ENV}, or add ?storage_account=<name> to the backend URL",
        )
    domain, domain_from = setting("domain", DOMAIN_ENV, DEFAULT_DOMAIN)
    protocol, protocol_from = setting(
        "protocol", PROTOCOL_ENV, conn_parts.get("DefaultEndpointsProtocol", "https")
    )
    emulator_flag, emulator_from = setting("localemu", LOCAL_EMULATOR_ENV)
    if protocol not in ("http", "https"):
        raise CliError(
            f"the backend {backend_url}: protocol {protocol!r} ({protocol_from}) is not http or "
            "https",
            f"set {PROTOCOL_ENV} to http (a local emulator) or https",
        )
    emulator = emulator_flag in _TRUE or domain.startswith(("127.0.0.1", "localhost"))
    if connection and conn_parts.get("BlobEndpoint"):
        url = conn_parts["BlobEndpoint"].rstrip("/")
        settings = f"BlobEndpoint in {connection[0]}"
    else:
        url = f"{protocol}://{domain}/{account}" if emulator else f"{protocol}://{account}.{domain}"
        settings = ", ".join(
            filter(None, [account_from, domain_from, protocol_from, emulator_from])
        )
    # As gocloud.dev picks them (newCredInfoFromEnv): a shared key only with the account variable.
    if environ.get(KEY_ENV) and environ.get(ACCOUNT_ENV):
        credentials = f"the shared key in {KEY_ENV}"
    elif environ.get(SAS_TOKEN_ENV):
        credentials = f"the SAS token in {SAS_TOKEN_ENV}"
    elif connection:
        credentials = f"the connection string in {connection[0]}"
    elif environ.get(KEY_ENV):
        raise CliError(
            f"the backend {backend_url}: {KEY_ENV} is set but {ACCOUNT_ENV} is not (the azblob "
            "driver uses a shared key only with the account variable)",
            f"set {ACCOUNT_ENV}={account}",
        )
    elif emulator:
        raise CliError(
            f"the backend {backend_url} is a local blob storage emulator ({url}), but "
            f"{KEY_ENV} is not set",
            f"set {KEY_ENV} to the key of account {account!r} (Azurite's accounts are in its "
            "AZURITE_ACCOUNTS variable; its default devstoreaccount1 has a well-known key)",
        )
    else:
        credentials = "Azure's default credentials (az login, managed identity, AZURE_CLIENT_ID)"
    service = urlparse(url)
    port = service.port or (443 if service.scheme == "https" else 80)
    return BlobService(
        container=parsed.netloc,
        account=account,
        url=url,
        host=service.hostname or "",
        port=port,
        emulator=emulator,
        credentials=credentials,
        settings=settings or "defaults",
    )


def check_reachable(service: BlobService, backend_url: str) -> None:
    """CliError unless the blob service accepts a TCP connection."""
    try:
        with socket.create_connection((service.host, service.port), timeout=CONNECT_TIMEOUT_S):
            return
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
    if service.emulator:
        next_step = (
            f"start the emulator on {service.host}:{service.port} (Azurite: "
            f"azurite-blob --blobHost 127.0.0.1 --blobPort {service.port}, installed by "
            f"`make setup` in $MODELPACK_CACHE/azurite), or point {DOMAIN_ENV} at the one "
            "that runs"
        )
    else:
        next_step = (
            f"check {ACCOUNT_ENV} and {DOMAIN_ENV} name a storage account that exists, and that "
            "this machine reaches it"
        )
    raise CliError(
        f"the backend {backend_url}: its blob service {service.url} does not answer "
        f"({reason}; address from {service.settings})",
        next_step,
    )


def check_backend(backend_url: str, environ: Mapping[str, str]) -> None:
    """Refuse a backend pulumi could not use, naming what to set (see the module docstring)."""
    if urlparse(backend_url).scheme == AZBLOB_SCHEME:
        check_reachable(azblob_service(backend_url, environ), backend_url)


def explain_failure(backend_url: str, environ: Mapping[str, str], output: str) -> CliError | None:
    """A CliError saying what to do when pulumi's `output` is the blob service refusing an
    azblob backend; None for anything else."""
    if urlparse(backend_url).scheme != AZBLOB_SCHEME:
        return None
    if "ContainerNotFound" in output:
        service = azblob_service(backend_url, environ)
        return CliError(
            f"the backend {backend_url}: storage account {service.account!r} ({service.url}) "
            f"has no container {service.container!r}",
            f"create it (az storage container create --name {service.container} "
            f"--account-name {service.account}), or name an existing one in the backend URL",
        )
    if "AuthorizationFailure" in output or "AuthenticationFailed" in output:
        service = azblob_service(backend_url, environ)
        return CliError(
            f"the backend {backend_url}: {service.url} refused {service.credentials}",
            f"set {KEY_ENV} (or the SAS token or connection string) to credentials of storage "
            f"account {service.account!r}",
        )
    return None
