"""What the ASGI app hands to a model (a scoring request) and gets back (a reply)."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

JSON_TYPE = b"application/json"
HTML_TYPE = b"text/html; charset=utf-8"  # what Flask (hence azmlinfsrv) sends for str bodies
# Arrays and objects a scoring body may nest. JSON parsers recurse once per level: Python's json
# raises RecursionError near 1000 levels (counting the caller's own frames), others crash.
MAX_JSON_DEPTH = 512

_JSON_DOCUMENT_START = re.compile(rb"[ \t\r\n]*[\[{]")
_JSON_NESTING_TOKENS = re.compile(rb'[\[\]{}"\\]')
_OPENING = frozenset(b"[{")
_CLOSING = frozenset(b"]}")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


# The version (4) and variant (RFC 4122) bits of a UUID4, as uuid.UUID(version=4) sets them.
_UUID4_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET = (4 << 76) | (0x8000 << 48)


def random_uuid() -> str:
    """A random UUID4 string. These ids need not be unpredictable: no system call per id.

    Formatted here rather than with ``str(uuid.UUID(...))``, which costs twice as much
    (a new id per request is on the hot path)."""
    digits = f"{random.getrandbits(128) & _UUID4_KEEP | _UUID4_SET:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


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


@dataclass(slots=True)
class BatchResult:
    """What a scorer answers to a batch of requests."""

    outcomes: list[Reply | Exception]
    """One per request, in order: its reply, or the exception ``score`` would have raised."""
    calls: list[int]
    """How many of the requests each call of the model answered (merged or alone)."""


class Scorer(Protocol):
    """A loaded model: a user's score.py or an MLflow model."""

    def init(self) -> None:
        """Load the model; may be slow. Runs on a run thread before any ``score``."""

    def score(self, request: ScoreRequest) -> Reply:
        """Answer one request. Raises ``ClientError`` or ``RunFailed``."""

    def schemas(self) -> tuple[Any, Any, list[str]]:
        """(input schema, output schema, swagger versions they fit) for /swagger.json."""

    def batches(self) -> bool:
        """Can ``score_batch`` merge requests? Asked once, after ``init``."""

    def score_batch(self, requests: list[ScoreRequest]) -> BatchResult:
        """Answer several requests, merging those that can be answered by one call of the
        model; a request that fails, fails alone."""


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


def json_too_deep(document: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Does ``document``, read as JSON, nest arrays and objects more than ``limit`` deep?

    Brackets inside strings do not count. Bodies that are not JSON arrays or objects, or hold
    fewer opening brackets (or bytes) than ``limit``, are answered without a scan; the scan is
    linear and stops at the first level past ``limit``."""
    if len(document) <= limit or document.count(b"[") + document.count(b"{") <= limit:
        return False
    if not _JSON_DOCUMENT_START.match(document):
        return False
    depth = 0
    in_string = False
    escaped_at = -1
    for token in _JSON_NESTING_TOKENS.finditer(document):
        at = token.start()
        char = document[at]
        if in_string:
            if at == escaped_at:
                continue
            if char == _BACKSLASH:
                escaped_at = at + 1
            elif char == _QUOTE:
                in_string = False
        elif char == _QUOTE:
            in_string = True
        elif char in _OPENING:
            depth += 1
            if depth > limit:
                return True
        elif char in _CLOSING:
            depth -= 1
    return False
