"""Stand-in for ``azureml.contrib.services.aml_request``: ``@rawhttp`` and ``AMLRequest``.

A ``run()`` decorated with ``@rawhttp`` receives the whole HTTP request as an ``AMLRequest``
(a Flask request in Azure ML); this one offers the parts score.py files use: ``method``,
``headers``, ``args``, ``get_data()``, ``get_json()``, ``form``, ``files``, ``full_path``...
"""

from __future__ import annotations

import io
import json
import shutil
from email.parser import BytesParser
from email.policy import HTTP
from functools import cached_property
from typing import Any, BinaryIO
from urllib.parse import parse_qsl

from .datastructures import Headers, MultiDict

# Set by @rawhttp; the server reads it after importing score.py (the name is Azure ML's).
_rawHttpRequested = False


def rawhttp(func: Any) -> Any:
    """Mark ``run()`` as taking the raw request instead of the parsed body."""
    global _rawHttpRequested
    _rawHttpRequested = True
    return func


class UnsupportedMediaType(ValueError):
    """``get_json()`` on a body that is not declared as JSON."""


class UploadedFile:
    """One file of a multipart/form-data body (werkzeug's FileStorage in Azure ML)."""

    def __init__(self, name: str, filename: str | None, content_type: str, data: bytes) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.mimetype = content_type.split(";")[0].strip()
        self.stream: BinaryIO = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def save(self, destination: str | BinaryIO) -> None:
        self.stream.seek(0)
        if isinstance(destination, str):
            with open(destination, "wb") as f:
                shutil.copyfileobj(self.stream, f)
        else:
            shutil.copyfileobj(self.stream, destination)

    def __repr__(self) -> str:
        return f"<UploadedFile {self.filename!r} ({self.content_type})>"


class AMLRequest:
    """The HTTP request given to a ``@rawhttp`` ``run()``."""

    def __init__(
        self,
        *,
        method: str = "GET",
        path: str = "/score",
        query_string: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        scheme: str = "http",
        host: str = "localhost",
        remote_addr: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = Headers(headers or [])
        self.scheme = scheme
        self.host = host
        self.remote_addr = remote_addr
        self._body = body

    # --- URL -------------------------------------------------------------------------
    @property
    def full_path(self) -> str:
        return f"{self.path}?{self.query_string.decode('latin-1')}"

    @property
    def host_url(self) -> str:
        return f"{self.scheme}://{self.host}/"

    url_root = host_url

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}"

    @property
    def url(self) -> str:
        query = self.query_string.decode("latin-1")
        return self.base_url + (f"?{query}" if query else "")

    @cached_property
    def args(self) -> MultiDict:
        return MultiDict(parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True))

    # --- body ------------------------------------------------------------------------
    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def mimetype(self) -> str:
        return (self.content_type or "").split(";")[0].strip().lower()

    @property
    def content_length(self) -> int | None:
        return self.headers.get("Content-Length", type=int)

    @property
    def is_json(self) -> bool:
        mimetype = self.mimetype
        return mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )

    @property
    def data(self) -> bytes:
        return self._body

    @property
    def stream(self) -> BinaryIO:
        return io.BytesIO(self._body)

    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str:
        return self._body.decode() if as_text else self._body

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if not (force or self.is_json):
            if silent:
                return None
            raise UnsupportedMediaType(
                "Did not attempt to load JSON data because the request "
                "Content-Type was not 'application/json'."
            )
        try:
            return json.loads(self._body)
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self) -> Any:
        return self.get_json()

    @cached_property
    def _form_and_files(self) -> tuple[MultiDict, MultiDict]:
        if self.mimetype == "application/x-www-form-urlencoded":
            pairs = parse_qsl(self._body.decode("latin-1"), keep_blank_values=True)
            return MultiDict(pairs), MultiDict()
        if self.mimetype == "multipart/form-data":
            return _parse_multipart(self.content_type or "", self._body)
        return MultiDict(), MultiDict()

    @property
    def form(self) -> MultiDict:
        return self._form_and_files[0]

    @property
    def files(self) -> MultiDict:
        return self._form_and_files[1]

    @property
    def values(self) -> MultiDict:
        return MultiDict([*self.args.items(multi=True), *self.form.items(multi=True)])

    def __repr__(self) -> str:
        return f"<AMLRequest '{self.url}' [{self.method}]>"


def _parse_multipart(content_type: str, body: bytes) -> tuple[MultiDict, MultiDict]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    form: list[tuple[str, str]] = []
    files: list[tuple[str, UploadedFile]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            form.append((name, data.decode(part.get_content_charset() or "utf-8")))
        else:
            files.append((name, UploadedFile(name, filename, part.get_content_type(), data)))
    return MultiDict(form), MultiDict(files)
