"""The ASGI application of one worker process.

Routes (as ``azmlinfsrv``, plus readiness and metrics):

``GET /``              liveness: 200 ``Healthy`` as soon as the process serves.
``GET /readyz``        readiness: 200 once ``init()`` has finished in every worker, else 503.
``GET|POST /score``    scoring; OPTIONS answers 200 (given to ``run()`` under ``@rawhttp``).
``GET /swagger.json``  API description (see ``inference.swagger``).
``GET /metrics``       Prometheus metrics.

Every answer carries ``x-request-id`` (the caller's, else a new UUID), ``x-ms-request-id``
and ``x-ms-client-request-id`` as ``azmlinfsrv`` sets them, and ``x-ms-server-version``.
Scoring runs on run threads (``RUN_THREADS``) so that the event loop stays free and a
request can be answered when it times out.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from . import __version__, logs
from .batching import Batcher
from .data_collection import CollectionMetrics, DataCollector
from .deadlines import Deadlines
from .metrics import CONTENT_TYPE as METRICS_TYPE
from .metrics import PUBLISH_INTERVAL_S, Metrics
from .run_threads import RunThreads
from .scoring import (
    HTML_TYPE,
    MAX_JSON_DEPTH,
    BatchResult,
    ClientError,
    Reply,
    RunFailed,
    Scorer,
    ScoreRequest,
    json_reply,
    json_too_deep,
    random_uuid,
)
from .settings import Settings
from .shared import SharedState
from .slots import Slots
from .swagger import SwaggerDocs

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger("inference.app")

HEADER_LIMIT = 100  # azmlinfsrv answers 431 to longer request ids
SERVER_VERSION = f"modelpack-inference/{__version__}".encode()
NOT_FOUND = (
    "The requested URL was not found on the server. "
    "If you entered the URL manually please check your spelling and try again."
)
NOT_ALLOWED = "The method is not allowed for the requested URL."
RUN_ERROR = "An unexpected error occurred in scoring script. Check the logs for more info."
INTERNAL_ERROR = "An unexpected internal error occurred. Check the logs for more info."
SCORE_METHODS = frozenset({"GET", "POST", "OPTIONS"})
GET_ROUTES = frozenset({"/", "/readyz", "/swagger.json", "/metrics"})
PROBE_ROUTES = frozenset({"/", "/readyz", "/metrics"})
HEARTBEAT_INTERVAL_S = 1.0
YOUNG_COLLECTION_ALLOCATIONS = 20_000  # Python's default is 700


class ClientDisconnected(Exception):
    pass


@dataclass(slots=True)
class RequestIds:
    """The request's ids, by azmlinfsrv's rules.

    ``x-request-id`` is the caller's or a new UUID. ``x-ms-request-id`` is the legacy name of
    the client's own id (``x-ms-client-request-id``): each fills in for the other, and
    without either it repeats ``x-request-id``.
    """

    request_id: str
    legacy_id: str
    client_id: str | None
    trace_id: bytes | None  # Office's TraceId, echoed
    too_long: bool  # one of the caller's is longer than HEADER_LIMIT

    @classmethod
    def from_headers(cls, headers: list[tuple[bytes, bytes]]) -> RequestIds:
        request_id = legacy_id = client_id = trace_id = None
        for name, value in headers:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"x-ms-request-id":
                legacy_id = value.decode("latin-1")
            elif name == b"x-ms-client-request-id":
                client_id = value.decode("latin-1")
            elif name == b"traceid":
                trace_id = value
        too_long = False
        if request_id is None:
            request_id = random_uuid()
        else:
            too_long = len(request_id) > HEADER_LIMIT
        if legacy_id:
            client_id = client_id or legacy_id
        else:
            legacy_id = client_id or request_id
        if client_id is not None:
            too_long = too_long or len(client_id) > HEADER_LIMIT or len(legacy_id) > HEADER_LIMIT
        return cls(request_id, legacy_id, client_id, trace_id, too_long)

    def drop(self) -> None:
        """Echo none of them (they are invalid)."""
        self.request_id = self.legacy_id = ""
        self.client_id = None

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        headers = []
        if self.request_id:
            headers.append((b"x-request-id", self.request_id.encode("latin-1")))
            headers.append((b"x-ms-request-id", self.legacy_id.encode("latin-1")))
        if self.client_id:
            headers.append((b"x-ms-client-request-id", self.client_id.encode("latin-1")))
        if self.trace_id is not None:
            headers.append((b"traceid", self.trace_id))
        return headers


class InferenceApp:
    def __init__(
        self, settings: Settings, scorer: Scorer, shared: SharedState, worker: int = 0
    ) -> None:
        self.settings = settings
        self.scorer = scorer
        self.shared = shared
        self.worker = worker
        self.metrics = Metrics(shared.in_flight_total, shared.queued_total)
        self.slots = Slots(shared, worker, settings.max_queue_wait_ms / 1000)
        self.run_threads = RunThreads(settings.run_threads)
        self.deadlines = (
            Deadlines(settings.request_timeout_ms / 1000) if settings.request_timeout_ms else None
        )
        self.ready = False
        self.init_error: BaseException | None = None
        self.on_init_failure: Callable[[], None] = lambda: None
        self.swagger = SwaggerDocs({})
        self._heartbeat: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self.batcher: Batcher | None = None
        self.collector: DataCollector | None = None
        if settings.data_collection is not None:
            collection = settings.data_collection
            self.collector = DataCollector(
                collection, CollectionMetrics(self.metrics.registry, collection.collections)
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    # --- start and stop -----------------------------------------------------------------
    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._heartbeat = asyncio.create_task(self._beat())
                if self.metrics.multiprocess:
                    self._publisher = asyncio.create_task(self._publish_metrics())
                if self.collector is not None:
                    self.collector.start()
                # init() runs on a run thread (as run() will) while liveness answers.
                self.run_threads.submit(self._initialise, None).add_done_callback(self._initialised)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in (self._heartbeat, self._publisher):
                    if task is not None:
                        task.cancel()
                self.metrics.publish()
                self.run_threads.stop()
                if self.collector is not None:
                    self.collector.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _beat(self) -> None:
        """Tell the supervisor this worker's event loop is alive: the loop that answers the
        liveness route. A worker whose beats stop is killed and replaced."""
        while True:
            self.shared.heartbeat[self.worker] = time.monotonic()
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)

    async def _publish_metrics(self) -> None:
        """Publish a busy worker's counts for the other workers' scrapes (an idle one
        publishes as it becomes idle)."""
        while True:
            await asyncio.sleep(PUBLISH_INTERVAL_S)
            self.metrics.publish()

    def _initialise(self, _: None) -> SwaggerDocs:
        self.scorer.init()
        return SwaggerDocs.build(self.settings, self.scorer.schemas())

    def _initialised(self, future: asyncio.Future[SwaggerDocs]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self.init_error = error
            logger.critical(
                "init failed, stopping: %s: %s", type(error).__name__, error, exc_info=error
            )
            self.on_init_failure()
            return
        self.swagger = future.result()
        # What init() loaded (the model, its libraries) lives as long as the worker: out of
        # the collector's sight, a full collection no longer stalls the worker for tens of ms.
        gc.freeze()
        # A request's objects are freed by reference counting as it is answered; the young
        # collections that 700 allocations trigger only walk the requests still in flight,
        # several times a request (about 3 µs of it). Cycles wait a little longer instead.
        gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, *gc.get_threshold()[1:])
        self._start_batching()
        self.ready = True
        self.shared.ready[self.worker] = 1
        logger.info("worker ready to score")

    def _start_batching(self) -> None:
        batching = self.settings.batching
        if batching is None:
            return
        if not self.scorer.batches():
            logger.warning(
                "MAX_BATCH_SIZE is %d, but this model cannot score requests together (a "
                "score.py needs a run_batch(list_of_raw_data) beside a run(raw_data) taking "
                "the body): each request is scored alone",
                batching.max_size,
            )
            return
        self.batcher = Batcher(
            batching,
            self.run_threads,
            self.settings.run_threads,
            self._score_batch_on_thread,
            self._in_flight,
        )
        logger.info(
            "batching up to %d requests, waiting at most %d ms",
            batching.max_size,
            batching.max_latency_ms,
        )

    # --- requests -----------------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        ids = RequestIds.from_headers(scope["headers"])
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            if path == "/score" and not ids.too_long:
                reply = await self._score(scope, receive, method, ids.request_id)
            else:
                reply = self._answer(scope, path, method, ids)
        except ClientDisconnected:
            reply = None
        if reply is not None:
            headers = reply.headers
            headers.append((b"content-length", str(len(reply.body)).encode()))
            headers.append((b"x-ms-server-version", SERVER_VERSION))
            headers += ids.response_headers()
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": reply.body})

        status = 499 if reply is None else reply.status  # 499: the client went away
        elapsed = time.perf_counter() - started
        self.metrics.observe(path, status, elapsed)
        if self.metrics.multiprocess and not self.shared.in_flight[self.worker]:
            self.metrics.publish()
        if path in PROBE_ROUTES:
            return  # probes come every few seconds: a log line each would bury the real ones
        logs.log_request(ids.request_id, method, path, status, elapsed, ids.client_id or None)

    def _answer(self, scope: Scope, path: str, method: str, ids: RequestIds) -> Reply:
        """The answer to any request but a scoring one with valid ids."""
        if ids.too_long:
            message = f"Request id headers must not exceed {HEADER_LIMIT} characters"
            ids.drop()
            return json_reply(431, {"message": message})
        if path not in GET_ROUTES:
            return json_reply(404, {"message": NOT_FOUND})
        if method != "GET" and method != "HEAD":
            return json_reply(405, {"message": NOT_ALLOWED})
        if path == "/":
            return Reply(200, b"Healthy", [(b"content-type", HTML_TYPE)])
        if path == "/readyz":
            if self.shared.all_ready():
                return Reply(200, b"Ready", [(b"content-type", HTML_TYPE)])
            return Reply(503, b"Not ready", [(b"content-type", HTML_TYPE)])
        if path == "/swagger.json":
            return self._swagger(scope)
        return Reply(200, self.metrics.exposition(), [(b"content-type", METRICS_TYPE)])

    async def _score(self, scope: Scope, receive: Receive, method: str, request_id: str) -> Reply:
        """The answer to a scoring request: one coroutine from the slot to the reply, as the
        coroutine layers per request cost as much as any check."""
        if method not in SCORE_METHODS:
            return json_reply(405, {"message": NOT_ALLOWED})
        if not self.ready:
            return json_reply(
                503, {"message": "The model is not loaded yet", "request_id": request_id}
            )
        limit = self.settings.max_request_body_bytes
        if _declared_length(scope["headers"]) > limit:
            return _too_large(limit, request_id)
        if not self.slots.try_take() and not await self.slots.wait():
            return json_reply(
                429,
                {
                    "message": "Too many requests: the instance is at its limit of "
                    f"{self.slots.limit} concurrent requests",
                    "request_id": request_id,
                },
            )
        try:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body = message.get("body", b"")  # the whole body at once: the usual case
                if len(body) > limit:
                    return _too_large(limit, request_id)
            else:
                body = await _read_rest(receive, message, limit)
                if body is None:
                    return _too_large(limit, request_id)
            if _nested_too_deep(body, scope["query_string"]):
                return json_reply(
                    400,
                    {
                        "message": f"The JSON input is nested more than {MAX_JSON_DEPTH} "
                        "arrays or objects deep",
                        "request_id": request_id,
                    },
                    run_failed=False,
                )
            request = ScoreRequest(
                method,
                scope["path"],
                scope["query_string"],
                scope["headers"],
                body,
                request_id,
                scope.get("scheme", "http"),
                scope.get("server"),
                scope.get("client"),
            )
            # On a run thread (or in a batch), or None from the deadline once the request
            # timeout passes: the run thread skips a call whose future is done before the
            # call starts, and drops a late answer.
            future: asyncio.Future[Reply | None]
            if self.batcher is not None and method == "POST":
                future = self.batcher.submit(request)  # type: ignore[assignment]
            else:
                future = self.run_threads.submit(self._score_on_thread, request)
            if self.deadlines is None:
                reply = await future
            else:
                deadline = self.deadlines.watch(future)
                try:
                    reply = await future
                finally:
                    deadline.clear()
            if reply is None:
                reply = self._timed_out(request_id)
            if self.collector is not None:
                self.collector.offer(request, reply)
            return reply
        finally:
            self.slots.give()

    def _timed_out(self, request_id: str) -> Reply:
        ms = self.settings.request_timeout_ms
        logger.error(
            "scoring timed out after %d ms", ms, extra={"fields": {"request_id": request_id}}
        )
        return json_reply(
            504,
            {"message": f"Scoring timeout after {ms} ms", "request_id": request_id},
            run_failed=True,
        )

    def _in_flight(self) -> int:
        return self.shared.in_flight[self.worker]

    def _score_on_thread(self, request: ScoreRequest) -> Reply:
        try:
            return self.scorer.score(request)
        except Exception as exc:
            return _failure_reply(request, exc)

    def _score_batch_on_thread(self, requests: list[ScoreRequest]) -> list[Reply]:
        try:
            result: BatchResult = self.scorer.score_batch(requests)
            if len(result.outcomes) != len(requests):
                raise RuntimeError(f"{len(result.outcomes)} outcomes for {len(requests)} requests")
        except Exception:
            logger.exception("scoring a batch failed; scoring its requests one by one")
            return [self._score_on_thread(request) for request in requests]
        for size in result.calls:
            self.metrics.batch_size.observe(size)
        return [
            outcome if isinstance(outcome, Reply) else _failure_reply(request, outcome)
            for request, outcome in zip(requests, result.outcomes, strict=True)
        ]

    def _swagger(self, scope: Scope) -> Reply:
        if not self.ready:
            return json_reply(503, {"message": "The model is not loaded yet"})
        versions = parse_qs(scope["query_string"].decode("latin-1")).get("version")
        status, document = self.swagger.get(versions[0] if versions else None)
        if isinstance(document, bytes):
            return Reply(status, document, [(b"content-type", b"application/json")])
        return json_reply(status, document)


def _failure_reply(request: ScoreRequest, error: Exception) -> Reply:
    """The answer to a request whose scoring raised ``error``."""
    fields = {"fields": {"request_id": request.request_id}}
    if isinstance(error, ClientError):
        return json_reply(
            error.status,
            {"message": error.message, "request_id": request.request_id},
            run_failed=False,
        )
    if isinstance(error, RunFailed):
        logger.error("run() raised", exc_info=error, extra=fields)
        body = {"message": RUN_ERROR, "error": str(error), "request_id": request.request_id}
        return json_reply(500, body, run_failed=True)
    logger.error("scoring failed", exc_info=error, extra=fields)
    return json_reply(500, {"message": INTERNAL_ERROR, "request_id": request.request_id})


async def _read_rest(receive: Receive, first: Message, limit: int) -> bytes | None:
    """The whole request body, of which ``first`` is the first message, or None once it
    exceeds ``limit`` bytes."""
    chunks = []
    size = 0
    message = first
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


def _nested_too_deep(body: bytes, query_string: bytes) -> bool:
    """Would the body, or a query value (GET scoring parses them as JSON), overflow a JSON
    parser? Checked before any scoring code sees the input."""
    if json_too_deep(body):
        return True
    if not query_string:
        return False
    return any(json_too_deep(value) for _, value in parse_qsl(query_string))


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _too_large(limit: int, request_id: str) -> Reply:
    reply = json_reply(
        413, {"message": f"The request body exceeds {limit} bytes", "request_id": request_id}
    )
    # The rest of the body is not read; closing the connection discards it.
    reply.headers.append((b"connection", b"close"))
    return reply
