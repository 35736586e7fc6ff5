"""Prometheus metrics, served at ``/metrics``.

* ``inference_requests_total{route, status}``: answered requests;
* ``inference_request_duration_seconds{route}``: time to answer (histogram);
* ``inference_requests_in_flight``: requests being answered now;
* ``inference_batch_size``: with batching on, how many requests each call of the model
  answered (histogram; a request scored alone counts as a call of 1);
* ``inference_data_collection_records_total{collection}`` and
  ``inference_data_collection_dropped_total{collection, reason}``, with data collection on
  (see ``inference.data_collection``).

``route`` is one of the server's paths or ``other``. With several workers, prometheus_client's
multiprocess mode adds up the workers' values (``PROMETHEUS_MULTIPROC_DIR`` is set by the
supervisor before the workers start); then the process_* and python_* metrics are left out,
as that mode cannot add them up.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

ROUTES = frozenset({"/", "/readyz", "/score", "/swagger.json", "/metrics"})
BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
CONTENT_TYPE = CONTENT_TYPE_LATEST.encode()


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multiprocess mode values live in files; the scrape reads them all.
        self.registry: CollectorRegistry | None = None
        """Where this process's metrics are registered (None in multiprocess mode: files)."""
        if not self.multiprocess:
            self.registry = CollectorRegistry()
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        self.requests = Counter(
            "inference_requests_total",
            "Requests answered, by route and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "inference_request_duration_seconds",
            "Time to answer a request, by route.",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "inference_requests_in_flight",
            "Requests being answered.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.batch_size = Histogram(
            "inference_batch_size",
            "Requests answered by one call of the model, with batching on.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def observe(self, path: str, status: int, seconds: float) -> None:
        key = (path, status)
        children = self._children.get(key)
        if children is None:
            route = path if path in ROUTES else "other"
            children = (self.requests.labels(route, str(status)), self.duration.labels(route))
            if path in ROUTES:  # keep the cache bounded whatever paths clients send
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        if self.registry is not None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
