"""Adaptive batching: a worker's scoring requests gathered into batches, each answered by one
call of ``score_batch`` on a run thread.

A batch goes to a run thread once one is free and either the batch is full (``max_size``),
or its oldest request has waited ``max_latency_ms``, or no other request can join it yet:
every request the worker is answering is either in the batch or being scored already (none
is still being received). That is checked at the end of the event loop's turn, so the
requests that arrived together join. While every run thread is busy, the requests arriving
wait for one anyway and join the next batch: batches grow with the load, a lone request is
sent at once, and no request waits for company longer than ``max_latency_ms``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .run_threads import RunThreads
from .scoring import Reply, ScoreRequest
from .settings import BatchSettings

ScoreBatch = Callable[[list[ScoreRequest]], list[Reply]]


@dataclass(slots=True)
class _Waiting:
    request: ScoreRequest
    answer: asyncio.Future[Reply]
    since: float  # the loop's clock when it arrived


class Batcher:
    def __init__(
        self,
        settings: BatchSettings,
        run_threads: RunThreads,
        threads: int,
        score_batch: ScoreBatch,
        in_flight: Callable[[], int],
    ) -> None:
        """``score_batch`` answers a list of requests, one reply each, in order; it runs on
        ``run_threads``, at most ``threads`` batches at a time. ``in_flight`` counts the
        requests the worker is answering now (those submitted here among them)."""
        self.max_size = settings.max_size
        self.max_latency_s = settings.max_latency_ms / 1000
        self._run_threads = run_threads
        self._threads = threads
        self._score_batch = score_batch
        self._in_flight = in_flight
        self._waiting: deque[_Waiting] = deque()
        self._running = 0  # batches
        self._scoring = 0  # the requests in them
        self._check_scheduled = False
        self._timer: asyncio.Handle | None = None
        self._timer_due = 0.0

    def submit(self, request: ScoreRequest) -> asyncio.Future[Reply]:
        """Queue ``request`` for the next batch; await the returned future for its reply.
        Cancelling the future (a timeout) takes the request out of a batch not yet sent."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Reply] = loop.create_future()
        self._waiting.append(_Waiting(request, answer, loop.time()))
        if not self._check_scheduled:
            self._check_scheduled = True
            loop.call_soon(self._check, loop)
        return answer

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        self._check_scheduled = False
        self._send_ready_batches(loop)

    def _send_ready_batches(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._running < self._threads:
            while self._waiting and self._waiting[0].answer.done():
                self._waiting.popleft()  # timed out while waiting
            if not self._waiting:
                return
            due = self._waiting[0].since + self.max_latency_s
            if len(self._waiting) < self.max_size and loop.time() < due and self._others_coming():
                self._wake_at(loop, due)
                return
            self._send(loop)

    def _others_coming(self) -> bool:
        """Is a request being received that could still join the waiting ones?"""
        return self._in_flight() > len(self._waiting) + self._scoring

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[_Waiting] = []
        while self._waiting and len(batch) < self.max_size:
            waiting = self._waiting.popleft()
            if not waiting.answer.done():
                batch.append(waiting)
        if not batch:
            return
        self._running += 1
        self._scoring += len(batch)
        replies = self._run_threads.submit(self._score_batch, [w.request for w in batch])
        replies.add_done_callback(partial(self._answer, loop, batch))

    def _answer(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[_Waiting],
        replies: asyncio.Future[list[Reply]],
    ) -> None:
        self._running -= 1
        self._scoring -= len(batch)
        error = replies.exception()
        for index, waiting in enumerate(batch):
            if waiting.answer.done():  # timed out meanwhile
                continue
            if error is not None:
                waiting.answer.set_exception(error)
            else:
                waiting.answer.set_result(replies.result()[index])
        self._send_ready_batches(loop)

    def _wake_at(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            if self._timer_due <= when:
                return
            self._timer.cancel()
        # uvloop gives a plain Handle, without when(), for a time already past: keep our own.
        self._timer, self._timer_due = loop.call_at(when, self._woken, loop), when

    def _woken(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        self._send_ready_batches(loop)
