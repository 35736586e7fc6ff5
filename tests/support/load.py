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
    refused_then_sent: list[str] = field(default_factory=list)
    """Requests whose new connection was refused and that were sent again on another (when
    the load retries refused connections): when each was refused."""

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)

    @property
    def failed(self) -> int:
        return self.total - self.statuses.get(200, 0)

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


def refused(error: BaseException) -> bool:
    """Whether the connection was refused, wherever in the chain of causes httpx keeps it."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__context__
    return False


class SteadyLoad:
    """`rate` requests per second from `threads` keep-alive clients until stopped. With
    `retry_refused`, a request whose new connection is refused is sent once more on another,
    as HTTP clients with retries do (Azure's SDKs among them): nothing of it was sent."""

    def __init__(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        rate: float = 60,
        threads: int = 4,
        retry_refused: bool = False,
    ) -> None:
        self.url, self.body, self.headers = url, body, headers
        self.retry_refused = retry_refused
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
                    answer = self._post(client)
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

    def _post(self, client: httpx.Client) -> httpx.Response:
        try:
            return client.post(self.url, content=self.body, headers=self.headers)
        except httpx.ConnectError as error:
            if not (self.retry_refused and refused(error)):
                raise
            with self.lock:
                self.result.refused_then_sent.append(f"{time.monotonic() - self.started:.1f} s")
            return client.post(self.url, content=self.body, headers=self.headers)

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
