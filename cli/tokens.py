"""Short-lived tokens for `auth_mode: aml_token` endpoints.

A token is `<expiry unix seconds>.<signature>`, the signature being
base64url(HMAC-SHA256(key, "<endpoint>.<expiry>")) with one of the endpoint's keys, unpadded.
The router checks it (router/image/token.js); nobody but the stack's owner holds the keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

DEFAULT_LIFETIME_S = 3600


@dataclass(frozen=True)
class Token:
    access_token: str
    expiry: int
    """Unix seconds."""


def mint(endpoint: str, key: str, lifetime_s: int = DEFAULT_LIFETIME_S) -> Token:
    expiry = int(time.time()) + lifetime_s
    digest = hmac.new(key.encode(), f"{endpoint}.{expiry}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return Token(f"{expiry}.{signature}", expiry)
