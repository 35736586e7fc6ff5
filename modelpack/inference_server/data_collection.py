"""Data collection: a sample of the scoring requests, recorded as JSON lines in Azure ML's
folder layout, with no change to score.py.

A deployment's ``data_collector`` block sets the ``DATA_COLLECTION_*`` settings (see
``inference.settings``). Every collection of a sampled request is recorded, so inputs and
outputs join on the request id. Sampling is systematic (every 1/rate-th request, from a
random start) rather than a coin per request, so 1,000 requests at 0.5 give 500 records
(within one per worker), not 500 ± 16. Records are partitioned into folders by the rolling
rate: ``<collection>/<yyyy>/<MM>/<dd>/<HH>/<replica>-<pid>.jsonl`` for ``hour``.

Each line is a CloudEvents-style record as Azure ML writes them: ``specversion``, ``id``,
``source``, ``type`` (``azureml.inference.<collection>``), ``datacontenttype``, ``time``,
``data`` (the body, parsed when it is JSON) and ``correlationid``, the request's
``x-request-id`` (the one the endpoint's router gave it).

Collection never slows or fails a request: the request path only samples and queues; one
thread per worker formats and writes. When the queue is full or a write fails (a full or
read-only store), the records are dropped and counted in ``/metrics``
(``inference_data_collection_dropped_total{collection, reason}``).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import parse_qsl

from prometheus_client import Counter

from .logs import timestamp
from .scoring import Reply, ScoreRequest, random_uuid
from .settings import PARTITIONS, CollectionSettings

logger = logging.getLogger("inference.data_collection")

WRITE_BATCH = 512
GATHER_S = 0.01
WARNING_INTERVAL_S = 60.0
CLOSE_TIMEOUT_S = 5.0


class CollectionMetrics:
    """Records written and dropped, by collection (and why they were dropped)."""

    def __init__(self, registry: Any, collections: tuple[str, ...]) -> None:
        self.written = Counter(
            "inference_data_collection_records_total",
            "Data collection records written, by collection.",
            ["collection"],
            registry=registry,
        )
        self.dropped = Counter(
            "inference_data_collection_dropped_total",
            "Data collection records dropped (queue full, or the store refused the write).",
            ["collection", "reason"],
            registry=registry,
        )
        for name in collections:  # shown as 0 from the start
            self.written.labels(name)
            self.dropped.labels(name, "queue_full")
            self.dropped.labels(name, "write_failed")


@dataclass(slots=True)
class _Sampled:
    at: float
    request: ScoreRequest
    reply: Reply
    size: int


class DataCollector:
    """Samples answered scoring requests and writes their records from a thread of its own."""

    def __init__(self, settings: CollectionSettings, metrics: CollectionMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._queue: queue.Queue[_Sampled | None] = queue.Queue(settings.queue_records)
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self._credit = random.random()
        self._writer = _Writer(settings, metrics)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="data-collection", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Write what is queued (for up to `timeout_s`), then stop."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            pass
        self._thread.join(timeout_s)
        self._thread = None

    def offer(self, request: ScoreRequest, reply: Reply) -> None:
        """Called on the request path once the answer is known: sample, then queue."""
        self._credit += self.settings.sampling_rate
        if self._credit < 1.0:
            return
        self._credit -= 1.0
        size = len(request.body) + len(reply.body)
        with self._bytes_lock:
            fits = self._queued_bytes + size <= self.settings.queue_bytes
            if fits:
                self._queued_bytes += size
        if fits:
            try:
                self._queue.put_nowait(_Sampled(time.time(), request, reply, size))
                return
            except queue.Full:
                with self._bytes_lock:
                    self._queued_bytes -= size
        for name in self._collections_of(reply):
            self.metrics.dropped.labels(name, "queue_full").inc()

    def _collections_of(self, reply: Reply) -> list[str]:
        succeeded = 200 <= reply.status < 300
        return [name for name in self.settings.collections if succeeded or name != "model_outputs"]

    def _run(self) -> None:
        while True:
            batch: list[_Sampled] = []
            item = self._queue.get()
            stopping = item is None
            if item is not None:
                batch.append(item)
            while not stopping and len(batch) < WRITE_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
            if batch:
                with self._bytes_lock:
                    self._queued_bytes -= sum(sampled.size for sampled in batch)
                self._write(batch)
            if stopping:
                self._writer.close()
                return
            # Let records gather: one wake-up and one write per file for many requests,
            # rather than for each, which cost the event loop more than the writing itself.
            if len(batch) < WRITE_BATCH:
                time.sleep(GATHER_S)

    def _write(self, batch: list[_Sampled]) -> None:
        lines: dict[str, list[str]] = {}
        for sampled in batch:
            for name, record in self._records(sampled):
                lines.setdefault(name, []).append(json.dumps(record, separators=(",", ":")))
        now = time.time()
        for name, collection_lines in lines.items():
            self._writer.write(name, collection_lines, now)

    def _records(self, sampled: _Sampled) -> list[tuple[str, dict[str, Any]]]:
        """(collection, record) of each collection a sampled request gives. Each body is
        parsed once, whichever collections show it."""
        request, reply = sampled.request, sampled.reply
        collections = self._collections_of(reply)
        request_data = _parsed(request.body)
        reply_data = (
            _parsed(reply.body) if {"model_outputs", "response"} & set(collections) else None
        )
        made = []
        for collection in collections:
            record: dict[str, Any] = {
                "specversion": "1.0",
                "id": random_uuid(),
                "source": self.settings.source,
                "type": f"azureml.inference.{collection}",
                "datacontenttype": "application/json",
                "time": timestamp(sampled.at),
            }
            if collection == "model_inputs":
                record["data"] = _model_input(request, request_data)
            elif collection == "model_outputs":
                record["data"] = reply_data
            elif collection == "request":
                record.update(self._request_fields(request))
                record["data"] = request_data
            else:
                record["status"] = reply.status
                record["data"] = reply_data
            record["correlationid"] = request.request_id
            made.append((collection, record))
        return made

    def _request_fields(self, request: ScoreRequest) -> dict[str, Any]:
        fields: dict[str, Any] = {"method": request.method, "path": request.path}
        if request.query_string:
            fields["query"] = request.query_string.decode("latin-1")
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in request.headers
            if name in self.settings.capture_headers
        }
        if headers:
            fields["headers"] = headers
        return fields


class _Writer:
    """Appends lines to each collection's current file, one file per rolling period."""

    def __init__(self, settings: CollectionSettings, metrics: CollectionMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.file_name = f"{socket.gethostname()}-{os.getpid()}.jsonl"
        self._open: dict[str, tuple[str, IO[str]]] = {}
        self._last_warning = -WARNING_INTERVAL_S

    def write(self, collection: str, lines: list[str], now: float) -> None:
        partition = time.strftime(PARTITIONS[self.settings.rolling_rate], time.gmtime(now))
        path = os.path.join(self.settings.folder, collection, partition, self.file_name)
        try:
            handle = self._handle(collection, path)
            handle.write("\n".join(lines) + "\n")
            handle.flush()
        except OSError as error:
            self._discard(collection)
            self.metrics.dropped.labels(collection, "write_failed").inc(len(lines))
            self._warn(collection, path, error)
            return
        self.metrics.written.labels(collection).inc(len(lines))

    def _handle(self, collection: str, path: str) -> IO[str]:
        current = self._open.get(collection)
        if current is not None and current[0] == path:
            return current[1]
        self._discard(collection)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open across batches)
        self._open[collection] = (path, handle)
        return handle

    def _discard(self, collection: str) -> None:
        current = self._open.pop(collection, None)
        if current is not None:
            try:
                current[1].close()
            except OSError:
                pass

    def close(self) -> None:
        for collection in list(self._open):
            self._discard(collection)

    def _warn(self, collection: str, path: str, error: OSError) -> None:
        now = time.monotonic()
        if now - self._last_warning < WARNING_INTERVAL_S:
            return
        self._last_warning = now
        logger.warning(
            "data collection: cannot write %s records to %s (%s); dropping them, counted in "
            "inference_data_collection_dropped_total",
            collection,
            path,
            error.strerror or error,
        )


def _model_input(request: ScoreRequest, body: Any) -> Any:
    """What the scoring code was given: the body, or for GET the query string's values."""
    if request.method == "GET" and not request.body and request.query_string:
        return {
            key: _parsed(value.encode())
            for key, value in parse_qsl(request.query_string.decode("latin-1"))
        }
    return body


def _parsed(body: bytes) -> Any:
    """The body as JSON when it is JSON, else as text."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")
