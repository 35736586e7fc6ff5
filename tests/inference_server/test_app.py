"""The inference server's ASGI app, in-process: built as a worker builds it (settings from
the environment's variables, `choose_scorer`, `SharedState.create`, `InferenceApp`), started
through the ASGI lifespan as uvicorn starts it, and driven by httpx's ASGI transport. No
process, socket or port: the contract of each route in milliseconds. The real server process
is tested by the other files of this folder."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from inference_schema import schema_util

from modelpack.inference_server import __version__, compat
from modelpack.inference_server.app import HEADER_LIMIT, YOUNG_COLLECTION_ALLOCATIONS, InferenceApp
from modelpack.inference_server.scoring import Reply, ScoreRequest, json_reply
from modelpack.inference_server.settings import Settings
from modelpack.inference_server.shared import SharedState
from modelpack.inference_server.worker import choose_scorer

Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]

DECORATED_SCORE_PY = """
import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import (
    StandardPythonParameterType,
)
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global model
    model_dir = os.environ["AZUREML_MODEL_DIR"]
    model = joblib.load(os.path.join(model_dir, "model/sklearn_regression_model.pkl"))


@input_schema("data", NumpyParameterType(np.array([[0.1] * 10])))
@output_schema(StandardPythonParameterType([150.0]))
def run(data):
    return model.predict(data).tolist()
"""


# --- running the app ------------------------------------------------------------------------


@asynccontextmanager
async def lifespan(app: InferenceApp) -> AsyncIterator[None]:
    """The app started as uvicorn (lifespan="on") starts it, and stopped on exit."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    assert (await from_app.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        assert (await from_app.get())["type"] == "lifespan.shutdown.complete"
        await asyncio.wait_for(task, 5)


async def wait_ready(client: httpx.AsyncClient, app: InferenceApp, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while (await client.get("/readyz")).status_code != 200:
        assert app.init_error is None, f"init() failed: {app.init_error!r}"
        assert time.monotonic() < deadline, "the app did not become ready (init() never ended)"
        await asyncio.sleep(0.005)


def serve(app: InferenceApp, scenario: Scenario, *, ready: bool = True) -> None:
    """Run `scenario` against `app` (once it is ready, unless `ready` is False)."""

    async def main() -> None:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with (
            lifespan(app),
            httpx.AsyncClient(
                transport=transport, base_url="http://testserver", timeout=10
            ) as client,
        ):
            if ready:
                await wait_ready(client, app)
            await scenario(client)

    asyncio.run(main())


def build_app(env: dict[str, str], scorer: Any = None) -> InferenceApp:
    """An app as a worker process builds one, from the server's environment variables."""
    settings = Settings.from_env({"WORKER_COUNT": "1", **env})
    shared = SharedState.create(settings.workers, settings.max_concurrent_requests)
    return InferenceApp(settings, scorer or choose_scorer(settings), shared, worker=0)


class GatedModel:
    """A Scorer whose init() and run() wait until the test opens their gate."""

    def __init__(self, *, init_open: bool = True) -> None:
        self.init_gate = threading.Event()
        if init_open:
            self.init_gate.set()
        self.run_gate = threading.Event()
        self.runs_started = 0

    def init(self) -> None:
        assert self.init_gate.wait(10)

    def score(self, request: ScoreRequest) -> Reply:
        self.runs_started += 1
        self.run_gate.wait(10)
        return json_reply(200, {"echo": request.body.decode()}, run_failed=False)

    def schemas(self) -> tuple[Any, Any, list[str]]:
        undescribed = {"type": "object", "example": {}}
        return undescribed, undescribed, ["2.0"]

    async def wait_runs(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while self.runs_started < count:
            assert time.monotonic() < deadline, f"run() was not called {count} time(s)"
            await asyncio.sleep(0.002)


@pytest.fixture(autouse=True)
def one_script_per_process(monkeypatch) -> Iterator[None]:
    """Each test loads its score.py as a fresh server process would. A process serves one
    script, so the server keeps per-script state in process-wide places: the module
    `entry_module`, @rawhttp's flag, and inference-schema's registry of decorated functions
    (keyed by qualified name: `entry_module.run` decorated once is decorated for every later
    script of the process)."""
    monkeypatch.delitem(sys.modules, "entry_module", raising=False)
    registries = (schema_util.__functions_schema__, schema_util.__versions__)
    saved = [dict(registry) for registry in registries]
    for registry in registries:
        registry.clear()
    assert not compat.raw_http_requested()
    yield
    for registry, before in zip(registries, saved, strict=True):
        registry.clear()
        registry.update(before)


@pytest.fixture
def seed_env(tmp_path: Path, seed_script: Path, diabetes_model, monkeypatch) -> dict[str, str]:
    """The server's variables for the seed's score.py and its Ridge model. score.py reads
    AZUREML_MODEL_DIR from the process environment, as the server's command line sets it."""
    model_dir = str(diabetes_model[0])
    monkeypatch.setenv("AZUREML_MODEL_DIR", model_dir)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return {
        "AML_APP_ROOT": str(tmp_path),
        "AZUREML_ENTRY_SCRIPT": seed_script.name,
        "AZUREML_MODEL_DIR": model_dir,
    }


@pytest.fixture
def gated_env(tmp_path: Path, monkeypatch) -> dict[str, str]:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return {"AML_APP_ROOT": str(tmp_path)}


# --- scoring --------------------------------------------------------------------------------


def test_score_answers_the_seed_models_own_predictions(seed_env, diabetes_model, diabetes_rows):
    model = diabetes_model[1]

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.post("/score", json={"data": diabetes_rows})
        assert response.status_code == 200, response.text
        assert response.json() == pytest.approx(model.predict(diabetes_rows).tolist())
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-ms-run-function-failed"] == "False"
        assert float(response.headers["x-ms-run-fn-exec-ms"]) > 0
        assert response.headers["x-ms-server-version"] == f"modelpack-inference/{__version__}"
        assert int(response.headers["content-length"]) == len(response.content)

        options = await client.options("/score")
        assert (options.status_code, options.content) == (200, b"")
        put = await client.put("/score", json={"data": diabetes_rows})
        assert put.status_code == 405

    serve(build_app(seed_env), scenario)


def test_malformed_json_for_a_schema_decorated_run_is_a_400(
    seed_env, make_script, diabetes_model, diabetes_rows
):
    script = make_script(DECORATED_SCORE_PY, name="decorated.py")
    model = diabetes_model[1]

    async def scenario(client: httpx.AsyncClient) -> None:
        good = await client.post("/score", json={"data": diabetes_rows})
        assert good.status_code == 200, good.text
        assert good.json() == pytest.approx(model.predict(diabetes_rows).tolist())

        bad = await client.post(
            "/score", content=b'{"data": [[0.1,', headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400, bad.text
        assert bad.json()["message"].startswith("POST body could not be decoded as JSON")
        assert bad.json()["request_id"] == bad.headers["x-request-id"]
        assert bad.headers["x-ms-run-function-failed"] == "False"

        not_an_object = await client.post("/score", json=[1, 2])
        assert not_an_object.status_code == 400
        assert "JSON dictionary" in not_an_object.json()["message"]

    serve(build_app({**seed_env, "AZUREML_ENTRY_SCRIPT": script.name}), scenario)


def test_malformed_json_given_to_an_undecorated_run_is_the_scripts_failure(seed_env):
    """As azmlinfsrv: run(raw_data) gets the text and json.loads fails inside score.py."""

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.post("/score", content=b'{"data": [[0.1,')
        assert response.status_code == 500
        assert response.headers["x-ms-run-function-failed"] == "True"
        assert "JSONDecodeError" in response.json()["error"]

    serve(build_app(seed_env), scenario)


def test_json_nested_too_deep_is_refused_before_run(seed_env):
    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.post("/score", content=b'{"data": ' + b"[" * 600 + b"}")
        assert response.status_code == 400
        assert "nested more than 512" in response.json()["message"]
        assert response.headers["x-ms-run-function-failed"] == "False"

    serve(build_app(seed_env), scenario)


def test_bodies_over_the_limit_get_413_declared_or_streamed(seed_env, diabetes_rows):
    limit = 1000
    at_limit = json.dumps({"data": diabetes_rows}).encode().ljust(limit)

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted while read
        for _ in range(3):
            yield b" " * 400

    async def scenario(client: httpx.AsyncClient) -> None:
        assert len(at_limit) == limit
        fits = await client.post("/score", content=at_limit)
        assert fits.status_code == 200, fits.text

        declared = await client.post("/score", content=at_limit + b" ")
        assert declared.status_code == 413
        assert declared.json()["message"] == f"The request body exceeds {limit} bytes"
        assert declared.headers["connection"] == "close"

        streamed = await client.post("/score", content=chunks())
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413

    serve(build_app({**seed_env, "MAX_REQUEST_BODY_BYTES": str(limit)}), scenario)


def test_requests_beyond_the_concurrency_limit_get_429(gated_env):
    model = GatedModel()
    env = {**gated_env, "MAX_CONCURRENT_REQUESTS_PER_INSTANCE": "1", "MAX_QUEUE_WAIT_MS": "20"}
    app = build_app(env, model)

    async def scenario(client: httpx.AsyncClient) -> None:
        first = asyncio.create_task(client.post("/score", content=b"first"))
        await model.wait_runs(1)
        refused = await client.post("/score", content=b"second")
        assert refused.status_code == 429
        assert "limit of 1 concurrent requests" in refused.json()["message"]
        assert model.runs_started == 1

        model.run_gate.set()
        assert (await first).json() == {"echo": "first"}
        again = await client.post("/score", content=b"third")  # the slot was given back
        assert again.json() == {"echo": "third"}
        assert list(app.shared.in_flight) == [0]

    try:
        serve(app, scenario)
    finally:
        model.run_gate.set()


def test_a_run_that_takes_too_long_is_answered_504(gated_env):
    model = GatedModel()

    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.post("/score", content=b"slow")
        assert response.status_code == 504
        assert response.json()["message"] == "Scoring timeout after 50 ms"
        assert response.headers["x-ms-run-function-failed"] == "True"

    try:
        serve(build_app({**gated_env, "REQUEST_TIMEOUT_MS": "50"}, model), scenario)
    finally:
        model.run_gate.set()


# --- probes, ids, description, metrics ------------------------------------------------------


def test_liveness_answers_at_once_and_readiness_once_init_has_finished(gated_env):
    model = GatedModel(init_open=False)
    app = build_app(gated_env, model)

    async def scenario(client: httpx.AsyncClient) -> None:
        live = await client.get("/")
        assert (live.status_code, live.text) == (200, "Healthy")
        assert live.headers["content-type"] == "text/html; charset=utf-8"
        not_ready = await client.get("/readyz")
        assert (not_ready.status_code, not_ready.text) == (503, "Not ready")
        early = await client.post("/score", content=b"x")
        assert early.status_code == 503
        assert early.json()["message"] == "The model is not loaded yet"
        assert (await client.get("/swagger.json")).status_code == 503

        model.init_gate.set()
        await wait_ready(client, app)
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.text) == (200, "Ready")
        assert list(app.shared.ready) == [1]
        assert app.shared.heartbeat[0] > 0  # the lifespan started the heartbeat

        assert (await client.post("/")).status_code == 405
        missing = await client.get("/nothing-here")
        assert missing.status_code == 404
        assert "not found" in missing.json()["message"]

    try:
        serve(app, scenario, ready=False)
    finally:
        model.init_gate.set()


def test_request_ids_are_echoed_as_azmlinfsrv_does(gated_env):
    async def scenario(client: httpx.AsyncClient) -> None:
        given = await client.get("/", headers={"x-request-id": "req-1"})
        assert given.headers["x-request-id"] == "req-1"
        assert given.headers["x-ms-request-id"] == "req-1"
        assert "x-ms-client-request-id" not in given.headers

        client_id = await client.get(
            "/", headers={"x-request-id": "req-2", "x-ms-client-request-id": "client-2"}
        )
        assert client_id.headers["x-request-id"] == "req-2"
        assert client_id.headers["x-ms-request-id"] == "client-2"
        assert client_id.headers["x-ms-client-request-id"] == "client-2"

        legacy = await client.get("/", headers={"x-ms-request-id": "legacy-3"})
        assert legacy.headers["x-ms-request-id"] == "legacy-3"
        assert legacy.headers["x-ms-client-request-id"] == "legacy-3"
        assert uuid.UUID(legacy.headers["x-request-id"]).version == 4

        new = await client.post("/score", content=b"x", headers={"traceid": "trace-4"})
        assert uuid.UUID(new.headers["x-request-id"]).version == 4
        assert new.headers["x-ms-request-id"] == new.headers["x-request-id"]
        assert new.headers["traceid"] == "trace-4"
        other = await client.get("/nothing-here")
        assert other.headers["x-request-id"] not in ("", new.headers["x-request-id"])

        too_long = await client.get("/", headers={"x-request-id": "x" * (HEADER_LIMIT + 1)})
        assert too_long.status_code == 431
        assert "x-request-id" not in too_long.headers
        assert "x-ms-request-id" not in too_long.headers

    model = GatedModel()
    model.run_gate.set()
    serve(build_app(gated_env, model), scenario)


def test_swagger_describes_the_scripts_run(seed_env, make_script):
    script = make_script(DECORATED_SCORE_PY, name="decorated.py")

    async def scenario(client: httpx.AsyncClient) -> None:
        v2 = await client.get("/swagger.json")
        assert v2.status_code == 200
        assert v2.headers["content-type"] == "application/json"
        document = v2.json()
        assert document["swagger"] == "2.0"
        assert set(document["paths"]) == {"/", "/score", "/swagger.json"}
        assert set(document["definitions"]["ServiceInput"]["properties"]) == {"data"}

        v3 = await client.get("/swagger.json", params={"version": "3"})
        assert v3.json()["openapi"] == "3.0.3"
        unknown = await client.get("/swagger.json", params={"version": "5"})
        assert unknown.status_code == 404
        assert "not valid" in unknown.json()["message"]

    serve(build_app({**seed_env, "AZUREML_ENTRY_SCRIPT": script.name}), scenario)


def test_metrics_count_answers_by_route_and_status(gated_env):
    model = GatedModel()
    model.run_gate.set()

    async def scenario(client: httpx.AsyncClient) -> None:
        for _ in range(2):
            assert (await client.post("/score", content=b"x")).status_code == 200
        assert (await client.get("/no/such/path")).status_code == 404

        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=")
        text = metrics.text
        assert 'inference_requests_total{route="/score",status="200"} 2.0' in text
        assert 'inference_requests_total{route="other",status="404"} 1.0' in text
        assert 'inference_request_duration_seconds_count{route="/score"} 2.0' in text
        assert "inference_requests_in_flight 0.0" in text
        assert "process_cpu_seconds_total" in text  # one worker: the process's own metrics

    serve(build_app(gated_env, model), scenario)


def test_in_flight_metric_counts_the_scoring_requests_being_answered(gated_env):
    model = GatedModel()
    app = build_app(gated_env, model)

    async def scenario(client: httpx.AsyncClient) -> None:
        first = asyncio.create_task(client.post("/score", content=b"first"))
        await model.wait_runs(1)
        assert "inference_requests_in_flight 1.0" in (await client.get("/metrics")).text
        model.run_gate.set()
        assert (await first).status_code == 200
        assert "inference_requests_in_flight 0.0" in (await client.get("/metrics")).text

    try:
        serve(app, scenario)
    finally:
        model.run_gate.set()


def test_a_call_whose_request_timed_out_while_queued_is_not_run(gated_env):
    model = GatedModel()
    app = build_app({**gated_env, "REQUEST_TIMEOUT_MS": "50"}, model)

    async def scenario(client: httpx.AsyncClient) -> None:
        first = asyncio.create_task(client.post("/score", content=b"first"))
        await model.wait_runs(1)
        queued = await client.post("/score", content=b"queued")  # waits behind the first
        assert queued.status_code == 504
        model.run_gate.set()
        assert (await first).status_code == 504
        assert (await client.post("/score", content=b"next")).status_code == 200
        assert model.runs_started == 2  # first and next: the queued call was skipped

    try:
        serve(app, scenario)
    finally:
        model.run_gate.set()


def test_once_ready_young_collections_wait_for_more_allocations(gated_env):
    threshold = gc.get_threshold()
    gc.set_threshold(700, *threshold[1:])
    app = build_app(gated_env, GatedModel())

    async def scenario(client: httpx.AsyncClient) -> None:
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_ALLOCATIONS > 700
        assert gc.get_threshold()[1:] == threshold[1:]

    try:
        serve(app, scenario)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
