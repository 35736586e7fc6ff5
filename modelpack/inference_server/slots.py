"""One worker's share of the instance's concurrency limit, with a first-come queue.

The limit is a semaphore shared by the worker processes (``shared.py``). A scoring request
takes a slot at once when one is free and no request of this worker waits before it;
otherwise it joins this worker's queue. A request that frees a slot hands it straight to the
head of its worker's queue (no system call, no wake-up), unless another worker's queue head
has waited ``FAIRNESS_S`` longer: then the slot goes back to the semaphore and that worker
is woken (a byte down its pipe) to take it. Across the workers the queue is so first come,
first served to within ``FAIRNESS_S``, and a slot changes worker about once per
``FAIRNESS_S`` under a steady overload rather than at every request. A request that has
waited ``max_queue_wait_ms`` leaves the queue, to be answered 429.

(Every queued request polling the semaphore on its own timer, backing off to 10 ms, left a
freed slot idle until the next poll and served the queue in no order: a queue behind a limit
of 1 drained at tens of requests a second while a newcomer could take the slot first.)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque

from .shared import SharedState

# How much longer another worker's queue head must have waited than this worker's for a slot
# freed here to go there: the cost of a wake-up in another process, paid once per this long.
FAIRNESS_S = 0.005
# How often a worker's queue tries for a slot without a wake-up: one freed by a worker that
# died, or taken by a newcomer of a worker without a queue before the woken one could.
POLL_S = 0.005


class Slots:
    def __init__(self, shared: SharedState, worker: int, max_wait_s: float) -> None:
        self._shared = shared
        self._worker = worker
        self._max_wait_s = max_wait_s
        # The queue: each request's future (True: the slot is its own) and when it came.
        self._waiters: deque[tuple[asyncio.Future[bool], float]] = deque()
        self._poller: asyncio.Task[None] | None = None
        self._listening = False

    @property
    def limit(self) -> int:
        return self._shared.limit

    def try_take(self) -> bool:
        """Take a slot if one is free and nobody in this worker is queued for one."""
        return not self._waiters and self._shared.try_acquire(self._worker)

    def give(self) -> None:
        """Free a slot taken by ``try_take`` or ``wait``."""
        if not self._shared.limit:
            self._shared.release(self._worker)
            return
        other = self._longer_waiting_worker()
        if other is None and self._hand_over():
            return  # the slot stays this worker's, counted as it was
        self._shared.release(self._worker)
        if other is not None:
            self._shared.wake(other)

    async def wait(self) -> bool:
        """Queue for a slot: True once it is this request's, False after max_queue_wait_ms."""
        loop = asyncio.get_running_loop()
        if not self._listening:
            self._listen(loop)
        waiter: asyncio.Future[bool] = loop.create_future()
        entry = (waiter, time.monotonic())
        self._waiters.append(entry)
        self._shared.queued[self._worker] += 1
        self._publish_head()
        expiry = loop.call_later(self._max_wait_s, _expire, waiter)
        if self._poller is None:
            self._poller = loop.create_task(self._poll())
        try:
            return await waiter
        except asyncio.CancelledError:
            if _granted(waiter):
                self.give()  # handed over, then cancelled before it could run
            raise
        finally:
            expiry.cancel()
            self._shared.queued[self._worker] -= 1
            if entry in self._waiters:  # expired or cancelled; a granted one was taken off
                self._waiters.remove(entry)
                self._publish_head()

    def _hand_over(self) -> bool:
        """Make the slot this worker holds the next queued request's; False if none waits."""
        while self._waiters:
            waiter, _ = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                self._publish_head()
                return True
        self._publish_head()
        return False

    def _publish_head(self) -> None:
        self._shared.queue_head[self._worker] = self._waiters[0][1] if self._waiters else 0.0

    def _longer_waiting_worker(self) -> int | None:
        """The worker whose queue head has waited longest, if FAIRNESS_S longer than this
        worker's (any queue, when none is queued here)."""
        heads = self._shared.queue_head
        mine = heads[self._worker]
        found, oldest = None, mine - FAIRNESS_S if mine else float("inf")
        for worker, since in enumerate(heads):
            if since and since < oldest and worker != self._worker:
                found, oldest = worker, since
        return found

    def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        fd = self._shared.wake_fd(self._worker)
        if fd is not None:
            loop.add_reader(fd, self._woken, fd)
        self._listening = True

    def _woken(self, fd: int) -> None:
        try:
            os.read(fd, 4096)
        except BlockingIOError:
            pass
        self._take_freed()

    async def _poll(self) -> None:
        try:
            while self._waiters:
                await asyncio.sleep(POLL_S)
                self._take_freed()
        finally:
            self._poller = None

    def _take_freed(self) -> None:
        """Give the semaphore's free slots to the requests queued here, first come first."""
        while self._waiters and self._shared.try_acquire(self._worker):
            if not self._hand_over():
                self._shared.release(self._worker)
                return


def _granted(waiter: asyncio.Future[bool]) -> bool:
    return waiter.done() and not waiter.cancelled() and waiter.result()


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
