"""One worker's share of the instance's concurrency limit, with a first-come queue.

The limit is a semaphore shared by the worker processes (``shared.py``). A scoring request
takes a slot at once when one is free and no request of this worker waits before it;
otherwise it joins this worker's queue. While the queue is not empty, one thread of the
worker blocks on the semaphore on the queue's behalf and hands each slot it gets to the
request at the head, so a slot freed anywhere in the instance is taken within a thread
wake-up, and the workers' blocked threads take turns (the kernel wakes them in order). A
request that has waited ``max_queue_wait_ms`` leaves the queue, to be answered 429.

(Polling the semaphore from the event loop instead, on timers, left a freed slot idle until
the next poll: a queue behind a limit of 1 drained at tens of requests a second.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from .shared import SharedState

# How long the queue's thread blocks on the semaphore in one call: it checks between calls
# whether anyone still waits, and the worker's shutdown waits for the call to return.
BLOCK_S = 0.05


class Slots:
    def __init__(self, shared: SharedState, worker: int, max_wait_s: float) -> None:
        self._shared = shared
        self._worker = worker
        self._max_wait_s = max_wait_s
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._taker: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None

    @property
    def limit(self) -> int:
        return self._shared.limit

    def try_take(self) -> bool:
        """Take a slot if one is free and nobody in this worker is queued for one."""
        return not self._waiters and self._shared.try_acquire(self._worker)

    def give(self) -> None:
        """Free a slot taken by ``try_take`` or ``wait``."""
        self._shared.release(self._worker)

    async def wait(self) -> bool:
        """Queue for a slot: True once it is this request's, False after max_queue_wait_ms."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        self._shared.queued[self._worker] += 1
        expiry = loop.call_later(self._max_wait_s, _expire, waiter)
        if self._taker is None:
            self._taker = loop.create_task(self._take_for_queue())
        try:
            return await waiter
        except asyncio.CancelledError:
            if _granted(waiter):
                self.give()  # handed over, then cancelled before it could run
            raise
        finally:
            expiry.cancel()
            self._shared.queued[self._worker] -= 1
            if waiter in self._waiters:  # expired or cancelled; a granted one was taken off
                self._waiters.remove(waiter)

    async def _take_for_queue(self) -> None:
        loop = asyncio.get_running_loop()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="slots")
        try:
            while self._waiters:
                taken = await loop.run_in_executor(
                    self._thread, self._shared.wait_for_slot, BLOCK_S
                )
                if taken:
                    self._hand_over()
        finally:
            self._taker = None

    def _hand_over(self) -> None:
        """Give the slot the thread took to the first request still waiting."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._shared.count_in(self._worker)
                waiter.set_result(True)
                return
        self._shared.give_back()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=False)


def _granted(waiter: asyncio.Future[bool]) -> bool:
    return waiter.done() and not waiter.cancelled() and waiter.result()


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
