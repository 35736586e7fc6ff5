"""What the ASGI app hands to a model (a scoring request) and gets back (a reply)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

JSON_TYPE = b"application/json"
HTML_TYPE = b"text/html; charset=utf-8"  # what Flask (hence azmlinfsrv) sends for str bodies


@dataclass(slots=True)
class ScoreRequest:
    method: str
    path: str
    query_string: bytes
    headers: list[tuple[bytes, bytes]]  # names lower-cased, as ASGI gives them
    body: bytes
    request_id: str
    scheme: str = "http"
    server: tuple[str, int] | None = None
    client: tuple[str, int] | None = None

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class Scorer(Protocol):
    """A loaded model: a user's score.py or an MLflow model."""

    def init(self) -> None:
        """Load the model; may be slow. Runs on a run thread before any ``score``."""

    def score(self, request: ScoreRequest) -> Reply:
        """Answer one request. Raises ``ClientError`` or ``RunFailed``."""

    def schemas(self) -> tuple[Any, Any, list[str]]:
        """(input schema, output schema, swagger versions they fit) for /swagger.json."""


class ClientError(Exception):
    """The request cannot be scored as sent (4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RunFailed(Exception):
    """The model's code raised while scoring; the cause is chained."""


def json_reply(status: int, value: Any, run_failed: bool | None = None) -> Reply:
    headers = [(b"content-type", JSON_TYPE)]
    if run_failed is not None:
        headers.append((b"x-ms-run-function-failed", b"True" if run_failed else b"False"))
    return Reply(status, json.dumps(value).encode(), headers)
