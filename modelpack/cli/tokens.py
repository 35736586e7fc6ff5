"""Short-lived tokens for `auth_mode: aml_token` endpoints.

A token is `<expiry unix seconds>.<signature>`, the signature being
base64url(HMAC-SHA256(key, "<endpoint>.<expiry>")) with one of the endpoint's keys, unpadded.
Tokens are minted with the primary key; the router accepts a signature by either key
(router/image/token.js), so rotating the secondary key leaves issued tokens valid. The router
refuses a token expiring further ahead than the stack's `modelpack:maxTokenLifetimeSeconds`
(24 h by default). Nobody but the stack's owner holds the keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from modelpack.names import DEFAULT_MAX_TOKEN_LIFETIME_S

from .errors import CliError

DEFAULT_LIFETIME_S = 3600
MAX_LIFETIME_KEY = "modelpack:maxTokenLifetimeSeconds"


@dataclass(frozen=True)
class Token:
    access_token: str
    expiry: int
    """Unix seconds."""
    refresh_after: int
    """Unix seconds: half-way through the token's life, when a client should get a new one."""

    def credentials(self) -> dict[str, Any]:
        """As `az ml online-endpoint get-credentials` prints an aml_token endpoint's."""
        return {
            "accessToken": self.access_token,
            "tokenType": "Bearer",
            "expiryTimeUtc": self.expiry,
            "refreshAfterTimeUtc": self.refresh_after,
        }


def sign(endpoint: str, key: str, expiry: int) -> str:
    digest = hmac.new(key.encode(), f"{endpoint}.{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mint(endpoint: str, key: str, lifetime_s: int = DEFAULT_LIFETIME_S) -> Token:
    now = int(time.time())
    expiry = now + lifetime_s
    return Token(f"{expiry}.{sign(endpoint, key, expiry)}", expiry, now + lifetime_s // 2)


def max_lifetime(config: dict[str, Any]) -> int:
    """The stack's maximum token lifetime, from `pulumi config --json`."""
    entry = config.get(MAX_LIFETIME_KEY) or {}
    value = entry.get("value")
    if value in (None, ""):
        return DEFAULT_MAX_TOKEN_LIFETIME_S
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CliError(
            f"{MAX_LIFETIME_KEY} is not a number of seconds: {value!r}",
            f"set it with `pulumi config set {MAX_LIFETIME_KEY} 86400`",
        ) from None


def check_lifetime(lifetime_s: int, maximum_s: int) -> None:
    if lifetime_s <= 0:
        raise CliError(f"--lifetime must be a positive number of seconds (got {lifetime_s})")
    if lifetime_s > maximum_s:
        raise CliError(
            f"--lifetime {lifetime_s} is longer than the stack's maximum token lifetime "
            f"({maximum_s} s): the router would refuse the token",
            f"ask for at most {maximum_s} s, or raise {MAX_LIFETIME_KEY} and run `up`",
        )
