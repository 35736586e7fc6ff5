"""State shared by the worker processes of one server: readiness and the concurrency limit.

Created by the supervisor before the workers start and handed to each (spawn pickles the
shared memory, the semaphore and the pipes along). Each worker owns one slot of the arrays.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import BaseContext
from typing import Any


class SharedState:
    def __init__(self, workers: int, max_concurrent_requests: int, context: BaseContext) -> None:
        self.workers = workers
        self.ready: Any = context.RawArray("b", workers)  # 1 once the worker's init() is done
        self.in_flight: Any = context.RawArray("i", workers)  # scoring requests per worker
        self.queued: Any = context.RawArray("i", workers)  # requests waiting for a slot
        # time.monotonic() at which the request at the head of each worker's queue came; 0
        # while the worker has none queued
        self.queue_head: Any = context.RawArray("d", workers)
        # time.monotonic() of each worker's last heartbeat from its event loop; 0 until the first
        self.heartbeat: Any = context.RawArray("d", workers)
        self.limit = max_concurrent_requests
        self._slots: Any = (
            context.BoundedSemaphore(max_concurrent_requests) if max_concurrent_requests else None
        )
        # A pipe per worker: a worker that frees a slot while requests are queued in another
        # writes a byte to that worker's pipe, which wakes its event loop to take the slot.
        self._wakers: list[tuple[Any, Any]] = []
        if max_concurrent_requests and workers > 1:
            self._wakers = [context.Pipe(duplex=False) for _ in range(workers)]
            for reader, writer in self._wakers:
                os.set_blocking(reader.fileno(), False)
                os.set_blocking(writer.fileno(), False)

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

    def wake_fd(self, worker: int) -> int | None:
        """The file descriptor that becomes readable when a slot is freed for ``worker``."""
        return self._wakers[worker][0].fileno() if self._wakers else None

    def wake(self, worker: int) -> None:
        """Tell ``worker`` that a slot was freed for its queue."""
        try:
            os.write(self._wakers[worker][1].fileno(), b"\0")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups it has yet to read

    def release(self, worker: int) -> None:
        self.in_flight[worker] -= 1
        if self._slots is not None:
            self._slots.release()

    def forget_worker(self, worker: int) -> None:
        """Free what a worker that died held, so its replacement starts clean."""
        self.ready[worker] = 0
        self.heartbeat[worker] = 0.0
        self.queued[worker] = 0
        self.queue_head[worker] = 0.0
        held = self.in_flight[worker]
        self.in_flight[worker] = 0
        if self._slots is not None:
            for _ in range(held):
                self._slots.release()
