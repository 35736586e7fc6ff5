"""Our protocol writes what uvicorn's own would, byte for byte, over a real socket.

Each case is an ASGI answer; both protocols serve it from a real uvicorn server on loopback,
and the raw bytes that reach the client are compared (the ``date`` line aside, which can
change between the two requests).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelpack.inference_server.transport import HttpProtocol, ResponseCycle

GET = b"GET / HTTP/1.1\r\nhost: test\r\n\r\n"
HEAD = b"HEAD / HTTP/1.1\r\nhost: test\r\n\r\n"
HTTP_1_0 = b"GET / HTTP/1.0\r\nhost: test\r\n\r\n"  # not kept alive: "connection: close"
BODY = b'{"answer": [1, 2]}'
LENGTH = (b"content-length", str(len(BODY)).encode())

# name: (response headers, body messages)
ANSWERS: dict[str, tuple[list[tuple[bytes, bytes]], list[dict[str, Any]]]] = {
    "usual": (
        [(b"content-type", b"application/json"), (b"x-request-id", b"id\tone"), LENGTH],
        [{"body": BODY}],
    ),
    "upper-case name": ([(b"X-Custom", b"1"), LENGTH], [{"body": BODY}]),
    "as a scoring answer": (
        [
            (b"content-type", b"application/json"),
            (b"x-ms-run-function-failed", b"False"),
            (b"x-ms-run-fn-exec-ms", b"0.412"),
            LENGTH,
            (b"x-ms-server-version", b"modelpack-inference/1.0"),
            (b"x-request-id", b"5b0e3c1e-0000-4000-8000-000000000000"),
            (b"x-ms-request-id", b"5b0e3c1e-0000-4000-8000-000000000000"),
        ],
        [{"body": BODY}],
    ),
    "length first": ([LENGTH, (b"content-type", b"application/json")], [{"body": BODY}]),
    "longer name": ([(b"x-content-length", b"1"), LENGTH], [{"body": BODY}]),
    "only a longer name": ([(b"x-content-length", b"1")], [{"body": b"a", "more_body": True}, {}]),
    "connection close": ([(b"connection", b"close"), LENGTH], [{"body": BODY}]),
    "chunked": ([(b"content-type", b"text/plain")], [{"body": b"a", "more_body": True}, {}]),
    "body in parts": ([LENGTH], [{"body": BODY[:3], "more_body": True}, {"body": BODY[3:]}]),
    "no body": ([(b"content-length", b"0")], [{}]),
    "two lengths": ([LENGTH, LENGTH], [{"body": BODY}]),
    "bad value": ([(b"x-bad", b"a\nb"), LENGTH], [{"body": BODY}]),
    "bad name": ([(b"x bad", b"1"), LENGTH], [{"body": BODY}]),
    "body too short": ([(b"content-length", b"50")], [{"body": BODY}]),
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    headers, bodies = ANSWERS[scope["headers"][-1][1].decode()]
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for body in bodies:
            await send({"type": "http.response.body", **body})
    except RuntimeError:
        if scope["headers"][-1][1] != b"body too short":
            raise
        await send({"type": "http.response.body", "body": b"x" * (50 - len(BODY))})


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    """A server on each protocol: {"uvicorn": port, "ours": port}."""
    servers = {}
    for name, protocol in (("uvicorn", HttpToolsProtocol), ("ours", HttpProtocol)):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, http=protocol, lifespan="off", log_config=None)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers[name] = (server, thread, sock.getsockname()[1])
    deadline = time.monotonic() + 10
    while not all(server.started for server, _, _ in servers.values()):
        assert time.monotonic() < deadline, "the test servers did not start"
        time.sleep(0.01)
    yield {name: port for name, (_, _, port) in servers.items()}
    for server, thread, _ in servers.values():
        server.should_exit = True
        thread.join(timeout=10)


def exchange(port: int, request: bytes, times: int = 1) -> bytes:
    """What the server sends back for ``request`` sent ``times`` on one connection, read
    until it closes the connection or stops sending."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(request * times)
        client.settimeout(0.3)
        received = b""
        while True:
            try:
                chunk = client.recv(65536)
            except TimeoutError:
                return received
            if not chunk:
                return received
            received += chunk


def without_date(response: bytes) -> bytes:
    return re.sub(rb"date: [^\r]*\r\n", b"", response)


def ask(port: int, answer: str, request_line: bytes = GET, times: int = 1) -> bytes:
    request = request_line.replace(b"\r\n\r\n", f"\r\nx-answer: {answer}\r\n\r\n".encode())
    return exchange(port, request, times)


@pytest.mark.parametrize("answer", sorted(ANSWERS))
@pytest.mark.parametrize("request_line", [GET, HEAD, HTTP_1_0], ids=["GET", "HEAD", "GET HTTP/1.0"])
def test_our_protocol_sends_what_uvicorns_sends(ports, answer, request_line):
    theirs = without_date(ask(ports["uvicorn"], answer, request_line, times=2))
    ours = without_date(ask(ports["ours"], answer, request_line, times=2))
    assert ours == theirs


def test_the_usual_answer_is_kept_alive_and_whole(ports):
    received = ask(ports["ours"], "usual", times=3)
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert received.count(b"x-request-id: id\tone\r\n") == 3
    assert received.count(b"\r\n\r\n" + BODY) == 3
    assert b"connection: close" not in received


def test_an_answer_not_kept_alive_says_so_and_closes(ports):
    received = ask(ports["ours"], "usual", HTTP_1_0, times=2)
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 1  # the second request is not read
    assert b"\r\nconnection: close\r\n\r\n" + BODY in received


@pytest.mark.parametrize("answer", ["bad name", "bad value"])
def test_an_invalid_head_closes_the_connection_unanswered(ports, answer):
    assert ask(ports["ours"], answer) == b""


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


@pytest.mark.parametrize(
    ("answer", "ours"),
    [(answer, True) for answer in ("usual", "as a scoring answer", "length first", "no body")]
    + [("bad value", True), ("bad name", True)]
    + [(answer, False) for answer in ("upper-case name", "chunked", "connection close")]
    + [(answer, False) for answer in ("longer name", "only a longer name", "two lengths")],
)
def test_usual_heads_are_written_here(answer, ours):
    cycle = ResponseCycle.__new__(ResponseCycle)
    cycle.default_headers = [(b"server", b"test")]
    cycle.keep_alive = True
    cycle.transport = Transport()  # type: ignore[assignment]
    headers = ANSWERS[answer][0]
    try:
        written = cycle._write_head(200, headers)
    except RuntimeError:
        written = True  # checked here, and refused
    assert written is ours
    assert bool(cycle.transport.written) is (ours and not answer.startswith("bad"))
