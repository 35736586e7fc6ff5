"""Fixtures that run the real inference server (``python -m modelpack.inference_server``) as a
subprocess."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import joblib
import pytest
import uvloop
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 60.0

SEED_SCORE_PY = (REPO / "tests" / "support" / "seed_score.py").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[[Callable[[], bool], float, str], None]:
    """``wait_until(condition, timeout, what)``: polls ``condition`` until it holds."""
    return wait_until


class Server:
    """One ``python -m modelpack.inference_server`` process listening on a free loopback port."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, python: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"server-{self.port}.log"
        self._log_file = open(self.log_path, "wb")
        full_env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SERVER_HOST": "127.0.0.1",
            "WORKER_COUNT": "1",
            **env,
        }
        self.process = subprocess.Popen(
            [python, "-m", "modelpack.inference_server", "--port", str(self.port), *args],
            cwd=cwd,
            env=full_env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.base_url, timeout=30)

    def url(self, path: str) -> str:
        return self.base_url + path

    def _answers(self, path: str, status: int) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"server exited with {self.process.returncode}:\n{self.logs()}")
        try:
            return self.client.get(path, timeout=1).status_code == status
        except httpx.TransportError:
            return False

    def wait_live(self, timeout: float = STARTUP_TIMEOUT_S) -> Server:
        wait_until(lambda: self._answers("/", 200), timeout, "liveness")
        return self

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> Server:
        wait_until(lambda: self._answers("/readyz", 200), timeout, "readiness")
        return self

    def post_together(self, bodies: list[bytes], in_flight: int = 0) -> list[tuple[int, bytes]]:
        """POST each JSON body to /score on a connection of its own, so that the requests are
        in flight together: every request's headers and all but the last byte of its body
        reach the server before any request is complete. Under a concurrency limit, pass the
        number that hold a slot (``in_flight``); the rest must be queued. Returns (status, body)
        in order."""
        in_flight = in_flight or len(bodies)
        connections = []
        for body in bodies:
            connection = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            head = (
                f"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            connection.sendall(head.encode() + body[:-1])
            connections.append(connection)
        wait_until(
            lambda: (
                self.metric("inference_requests_in_flight") == in_flight
                and self.metric("inference_requests_queued") == len(bodies) - in_flight
            ),
            30,
            "every request in flight or queued",
        )
        for connection, body in zip(connections, bodies, strict=True):
            connection.sendall(body[-1:])
        answers = []
        for connection in connections:
            response = http.client.HTTPResponse(connection)
            response.begin()
            answers.append((response.status, response.read()))
            connection.close()
        return answers

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of /metrics named ``name`` that carry ``labels``."""
        total = 0.0
        for family in text_string_to_metric_families(self.client.get("/metrics").text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total

    def wait_exit(self, timeout: float = STARTUP_TIMEOUT_S) -> int:
        return self.process.wait(timeout)

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def logs(self) -> str:
        self._log_file.flush()
        return self.log_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def close(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start_server(*args, env={...}, cwd=..., python=...)``: a started server, stopped after
    the test. It is not waited for; call ``wait_ready()``."""
    servers: list[Server] = []

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        python: str = sys.executable,
    ) -> Server:
        server = Server(list(args), env or {}, cwd or tmp_path, python)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


T = TypeVar("T")


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, T]], T]:
    """Runs a coroutine on asyncio's event loop, or on uvloop's, which the server uses (its
    timers differ: a time already past gives a plain Handle)."""
    return asyncio.run if request.param == "asyncio" else uvloop.run


@pytest.fixture(scope="session")
def diabetes_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ridge]:
    """A Ridge regression trained on sklearn's diabetes data, saved as Azure ML finds it:
    ``$AZUREML_MODEL_DIR/model/sklearn_regression_model.pkl``."""
    model_dir = tmp_path_factory.mktemp("azureml-models")
    (model_dir / "model").mkdir()
    features, target = load_diabetes(return_X_y=True)
    model = Ridge().fit(features, target)
    joblib.dump(model, model_dir / "model" / "sklearn_regression_model.pkl")
    return model_dir, model


@pytest.fixture(scope="session")
def diabetes_rows() -> list[list[float]]:
    features, _ = load_diabetes(return_X_y=True)
    return features[:2].tolist()


@pytest.fixture
def make_script(tmp_path: Path) -> Callable[..., Path]:
    """``make_script(source, name="score.py")``: writes a script into the test's folder."""

    def make(source: str, name: str = "score.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return make


@pytest.fixture
def seed_script(make_script: Callable[..., Path]) -> Path:
    """The score.py of the seed's sklearn regression example."""
    return make_script(SEED_SCORE_PY)


# A run() that blocks until the test releases it (or 30 s pass).
GATED_RUN = """
import os
import time
import uuid


def wait_for_release():
    gate = os.environ["GATE_DIR"]
    open(os.path.join(gate, f"started-{uuid.uuid4()}"), "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(gate, "release")) and time.monotonic() < deadline:
        time.sleep(0.01)
"""


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    return Gate(tmp_path / "gate")


class Gate:
    """Files through which a test and a blocking score.py signal each other.

    The script writes ``started-<uuid>`` when run() begins and waits for ``release`` (see
    ``GATED_RUN``); the test waits for the first and creates the second.
    """

    # Source of ``wait_for_release()``, for score.py files to include.
    SOURCE = GATED_RUN

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        self.env = {"GATE_DIR": str(folder)}

    def wait_started(self, count: int = 1, timeout: float = 30) -> None:
        def started() -> bool:
            return len(list(self.folder.glob("started-*"))) >= count

        wait_until(started, timeout, f"{count} run() call(s) to start")

    def release(self) -> None:
        (self.folder / "release").touch()
