"""uvicorn's httptools protocol, with responses written in fewer steps.

Two changes, neither visible on the wire:

- **One send per response.** uvicorn writes a response's head and its body with two
  ``transport.write`` calls, and an uvloop transport sends each at once: two system calls
  and two TCP segments per answer, which costs about as much as the rest of the server's
  bookkeeping (and wakes the client twice). ``CoalescingTransport`` gathers the writes of
  one event-loop turn and sends them with one ``writelines``.
- **One check per head.** uvicorn checks each response header with two regular expression
  searches and lower-cases its name one by one: about 0.5 µs a header, and a scoring answer
  carries eight. ``ResponseCycle`` checks all the names at once and all the values at
  once, with the same expressions, and leaves anything unusual (a name not lower-case, an
  access log, a paused writer) to uvicorn's own code.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)


class CoalescingTransport:
    """Delegates to ``transport``, except that writes wait for the end of the loop turn."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            if not self._transport.is_closing():
                self._transport.writelines(pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class ResponseCycle(RequestResponseCycle):
    """uvicorn's request-response cycle, with the usual response (a head with lower-case
    names and a ``content-length``, then the whole body) written here, anything else by
    uvicorn."""

    async def send(self, message: ASGISendEvent) -> None:
        if not (self.disconnected or self.flow.write_paused or self.access_log):
            if not self.response_started:
                if message["type"] == "http.response.start" and self._write_head(
                    message["status"],
                    message.get("headers", ()),  # type: ignore[typeddict-item]
                ):
                    return
            elif (
                message["type"] == "http.response.body"
                and not self.response_complete
                and not self.chunked_encoding
                and not message.get("more_body", False)
                and self.scope["method"] != "HEAD"
                and len(body := message.get("body", b"")) == self.expected_content_length  # type: ignore[typeddict-item]
            ):
                self._write_body(body)
                return
        await super().send(message)  # uvicorn's code, and its errors

    def _write_body(self, body: bytes) -> None:
        self.transport.write(body)
        self.expected_content_length = 0
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()

    def _write_head(self, status: int, extra: Any) -> bool:
        """Write the status line and headers as uvicorn would; False (having done nothing)
        for a head that uvicorn's own code must write."""
        headers = self.default_headers + list(extra)
        names = b"".join([name for name, _ in headers])
        if (
            names.count(b"content-length") != 1
            or b"connection" in names
            or b"transfer-encoding" in names
            or not names.islower()
        ):
            return False  # framing headers to interpret, or names to lower-case
        length = None
        content = [STATUS_LINE[status]]
        for name, value in headers:
            if name == b"content-length":
                length = value
            content += (name, b": ", value, b"\r\n")
        if length is None:
            return False  # "content-length" was part of a longer name
        self.response_started = True  # before the checks, as uvicorn: an invalid head is
        self.waiting_for_100_continue = False  # not answered 500, its connection is closed
        if HEADER_RE.search(names):
            raise RuntimeError("Invalid HTTP header name.")
        # A tab is valid in a value and is not searched for: the values are checked as one.
        if HEADER_VALUE_RE.search(b"\t".join([value for _, value in headers])):
            raise RuntimeError("Invalid HTTP header value.")
        self.expected_content_length = int(length)
        self.chunked_encoding = False
        content.append(b"\r\n" if self.keep_alive else b"connection: close\r\n\r\n")
        self.transport.write(b"".join(content))
        return True


class HttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport subclasses, but have its methods.)
        coalescing = CoalescingTransport(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(cast(asyncio.Transport, coalescing))

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The cycle's task has been created, not started: its send is looked up when it runs.
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = ResponseCycle
