"""Stand-in for ``azureml.contrib.services.aml_response``: the response a raw ``run()`` returns.

Same constructor as Azure ML's (a Flask Response there): ``AMLResponse(message, status_code,
response_headers={}, json_str=False, run_function_failed=False)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .datastructures import Headers

_STATUS_PHRASES = {
    200: "OK",
    201: "CREATED",
    202: "ACCEPTED",
    204: "NO CONTENT",
    400: "BAD REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT FOUND",
    405: "METHOD NOT ALLOWED",
    409: "CONFLICT",
    413: "REQUEST ENTITY TOO LARGE",
    415: "UNSUPPORTED MEDIA TYPE",
    422: "UNPROCESSABLE ENTITY",
    429: "TOO MANY REQUESTS",
    500: "INTERNAL SERVER ERROR",
    503: "SERVICE UNAVAILABLE",
    504: "GATEWAY TIMEOUT",
}


class AMLResponse:
    """A complete HTTP answer: status, headers and body bytes."""

    def __init__(
        self,
        message: Any,
        status_code: int,
        response_headers: Mapping[str, str] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        self.status_code = int(status_code)
        self.headers = Headers()
        if message is None:
            self._data = b"{}"
            self.headers.add("Content-Type", "application/json")
        elif json_str:
            self._data = json.dumps(message).encode()
            self.headers.add("Content-Type", "application/json")
        else:
            self._data = _to_bytes(message)
            self.headers.add("Content-Type", "text/html; charset=utf-8")
            if response_headers and any(k.lower() == "content-type" for k in response_headers):
                self.headers.remove("Content-Type")
        self.headers.add("x-ms-run-function-failed", str(bool(run_function_failed)))
        # As in Azure ML: a comma in a value means the header is repeated.
        for name, value in (response_headers or {}).items():
            for part in str(value).split(","):
                self.headers.add(name, part.strip())

    @property
    def status(self) -> str:
        return f"{self.status_code} {_STATUS_PHRASES.get(self.status_code, 'UNKNOWN')}"

    @property
    def data(self) -> bytes:
        return self._data

    @data.setter
    def data(self, value: str | bytes) -> None:
        self._data = _to_bytes(value)

    def get_data(self, as_text: bool = False) -> bytes | str:
        return self._data.decode() if as_text else self._data

    def set_data(self, value: str | bytes) -> None:
        self._data = _to_bytes(value)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def mimetype(self) -> str | None:
        content_type = self.content_type
        return content_type.split(";")[0].strip() if content_type else None

    def __repr__(self) -> str:
        return f"<AMLResponse {len(self._data)} bytes [{self.status_code}]>"


def _to_bytes(message: Any) -> bytes:
    if isinstance(message, bytes):
        return message
    if isinstance(message, (bytearray, memoryview)):
        return bytes(message)
    if isinstance(message, str):
        return message.encode()
    # Flask accepts an iterable of chunks.
    return b"".join(chunk.encode() if isinstance(chunk, str) else bytes(chunk) for chunk in message)
