"""State shared by the worker processes of one server: readiness and the concurrency limit.

Created by the supervisor before the workers start and handed to each (spawn pickles the
shared memory and the semaphore along). Each worker owns one slot of the arrays.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext
from typing import Any


class SharedState:
    def __init__(self, workers: int, max_concurrent_requests: int, context: BaseContext) -> None:
        self.workers = workers
        self.ready: Any = context.RawArray("b", workers)  # 1 once the worker's init() is done
        self.in_flight: Any = context.RawArray("i", workers)  # scoring requests per worker
        self.queued: Any = context.RawArray("i", workers)  # requests waiting for a slot
        # time.monotonic() of each worker's last heartbeat from its event loop; 0 until the first
        self.heartbeat: Any = context.RawArray("d", workers)
        self.limit = max_concurrent_requests
        self._slots: Any = (
            context.BoundedSemaphore(max_concurrent_requests) if max_concurrent_requests else None
        )

    @classmethod
    def create(cls, workers: int, max_concurrent_requests: int) -> SharedState:
        return cls(workers, max_concurrent_requests, multiprocessing.get_context("spawn"))

    def all_ready(self) -> bool:
        return all(self.ready)

    def in_flight_total(self) -> int:
        """Scoring requests holding a slot now, across the workers."""
        return sum(self.in_flight)

    def queued_total(self) -> int:
        """Scoring requests waiting for a slot now, across the workers."""
        return sum(self.queued)

    def try_acquire(self, worker: int) -> bool:
        """Take a scoring slot; False when the instance is at its concurrency limit."""
        if self._slots is not None and not self._slots.acquire(False):
            return False
        self.in_flight[worker] += 1
        return True

    def wait_for_slot(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for a slot, on a thread other than the event loop's.
        The slot is not counted yet: ``count_in`` it where it is handed over, or ``give_back``."""
        assert self._slots is not None, "no limit, no waiting"
        return bool(self._slots.acquire(True, timeout))

    def count_in(self, worker: int) -> None:
        self.in_flight[worker] += 1

    def give_back(self) -> None:
        """Return a slot that ``wait_for_slot`` took and nobody wanted any more."""
        assert self._slots is not None
        self._slots.release()

    def release(self, worker: int) -> None:
        self.in_flight[worker] -= 1
        if self._slots is not None:
            self._slots.release()

    def forget_worker(self, worker: int) -> None:
        """Free what a worker that died held, so its replacement starts clean."""
        self.ready[worker] = 0
        self.heartbeat[worker] = 0.0
        self.queued[worker] = 0
        held = self.in_flight[worker]
        self.in_flight[worker] = 0
        if self._slots is not None:
            for _ in range(held):
                self._slots.release()
