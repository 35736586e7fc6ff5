"""Prometheus metrics, served at ``/metrics``.

* ``inference_requests_total{route, status}``: answered requests;
* ``inference_request_duration_seconds{route}``: time to answer (histogram);
* ``inference_requests_in_flight``: scoring requests being answered now, across the workers,
  and ``inference_requests_queued``: scoring requests waiting for a slot under the instance's
  concurrency limit (both read from the workers' shared counts when scraped, not counted
  again per request);
* ``inference_batch_size``: with batching on, how many requests each call of the model
  answered (histogram; a request scored alone counts as a call of 1);
* ``inference_data_collection_records_total{collection}`` and
  ``inference_data_collection_dropped_total{collection, reason}``, with data collection on
  (see ``inference.data_collection``).

``route`` is one of the server's paths or ``other``. With several workers, prometheus_client's
multiprocess mode adds up the workers' values (``PROMETHEUS_MULTIPROC_DIR`` is set by the
supervisor before the workers start); then the process_* and python_* metrics are left out,
as that mode cannot add them up, and a busy worker's answers reach the other workers' scrapes
within ``PUBLISH_INTERVAL_S`` (an idle worker's at once).
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

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
PUBLISH_INTERVAL_S = 0.1  # how stale, at most, a busy worker's counts are to other workers


class SharedCounts(Collector):
    """``inference_requests_in_flight`` and ``inference_requests_queued``, read when scraped."""

    def __init__(self, in_flight: Callable[[], int], queued: Callable[[], int]) -> None:
        self.in_flight = in_flight
        self.queued = queued

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "inference_requests_in_flight", "Requests being answered.", value=self.in_flight()
        )
        yield GaugeMetricFamily(
            "inference_requests_queued",
            "Requests waiting for a slot under the concurrency limit.",
            value=self.queued(),
        )


class _RequestValues:
    """The values one route and status add to: what ``Counter.inc()`` and
    ``Histogram.observe()`` would update, and the answers tallied since they last did.

    Each of prometheus_client's values takes a lock to add (and, with several workers,
    writes a file's memory map): three per answer cost more than the rest of the request's
    metrics and logging. Answers are tallied here in plain numbers instead, on the event
    loop that answers them, and added to the values by ``publish``."""

    __slots__ = ("count", "sum", "buckets", "tally", "tally_sum", "tally_buckets")

    def __init__(self, counter: Counter, histogram: Histogram) -> None:
        # prometheus_client's value objects (pinned in pyproject.toml); the metrics tests read
        # the exposition, so a change of these internals fails them.
        self.count = counter._value
        self.sum = histogram._sum
        self.buckets = histogram._buckets  # one per bound of BUCKETS, then +Inf
        self.tally = 0
        self.tally_sum = 0.0
        self.tally_buckets = [0] * len(self.buckets)

    def publish(self) -> None:
        if not self.tally:
            return
        self.count.inc(self.tally)
        self.sum.inc(self.tally_sum)
        for bucket, tally in zip(self.buckets, self.tally_buckets, strict=True):
            if tally:
                bucket.inc(tally)
        self.tally = 0
        self.tally_sum = 0.0
        self.tally_buckets = [0] * len(self.buckets)


class Metrics:
    def __init__(
        self, in_flight: Callable[[], int] = lambda: 0, queued: Callable[[], int] = lambda: 0
    ) -> None:
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
        self.shared_counts = SharedCounts(in_flight, queued)
        if self.registry is not None:
            self.registry.register(self.shared_counts)
        self.batch_size = Histogram(
            "inference_batch_size",
            "Requests answered by one call of the model, with batching on.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self._values: dict[tuple[str, int], _RequestValues] = {}

    def observe(self, path: str, status: int, seconds: float) -> None:
        """Count an answer; on the event loop, as ``publish`` and ``exposition``."""
        values = self._values.get((path, status))
        if values is not None:
            values.tally += 1
            values.tally_sum += seconds
            values.tally_buckets[bisect_left(BUCKETS, seconds)] += 1
            return
        route = path if path in ROUTES else "other"
        values = _RequestValues(
            self.requests.labels(route, str(status)), self.duration.labels(route)
        )
        if path in ROUTES:  # keep the cache bounded whatever paths clients send
            self._values[(path, status)] = values
        values.count.inc(1)
        values.sum.inc(seconds)
        values.buckets[bisect_left(BUCKETS, seconds)].inc(1)

    def publish(self) -> None:
        """Add the answers counted since the last call to the values a scrape reads: this
        worker's scrapes publish first; other workers' see them once those publish (when
        idle, and every ``PUBLISH_INTERVAL_S``)."""
        for values in self._values.values():
            values.publish()

    def exposition(self) -> bytes:
        self.publish()
        if self.registry is not None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        registry.register(self.shared_counts)
        return generate_latest(registry)
