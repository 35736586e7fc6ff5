"""A steady request load against an endpoint, counting every answer."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    served_by: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)

    @property
    def failed(self) -> int:
        return self.total - self.statuses.get(200, 0)

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


class SteadyLoad:
    """`rate` requests per second from `threads` keep-alive clients until stopped."""

    def __init__(
        self, url: str, body: bytes, headers: dict[str, str], rate: float = 60, threads: int = 4
    ) -> None:
        self.url, self.body, self.headers = url, body, headers
        self.interval = threads / rate
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(threads)]
        self.stop_event = threading.Event()
        self.result = LoadResult()
        self.lock = threading.Lock()

    def _client(self) -> None:
        with httpx.Client(timeout=30) as client:
            next_at = time.monotonic()
            while not self.stop_event.is_set():
                started = time.monotonic()
                try:
                    answer = client.post(self.url, content=self.body, headers=self.headers)
                    with self.lock:
                        self.result.statuses[answer.status_code] += 1
                        self.result.served_by[answer.headers.get("azureml-model-deployment")] += 1
                        self.result.latencies_ms.append((time.monotonic() - started) * 1000)
                except httpx.HTTPError as error:
                    with self.lock:
                        # When, for telling a blip at a rollout from one at the start.
                        at = time.monotonic() - self.started
                        self.result.errors.append(f"{error!r} at {at:.1f} s")
                next_at += self.interval
                time.sleep(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> SteadyLoad:
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join()
        self.result.seconds = time.monotonic() - self.started
