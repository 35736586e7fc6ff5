"""The threads that call the model (``init()`` and ``run()``), off the event loop.

Lighter than ``loop.run_in_executor``: one queue put to hand a call over, one
``call_soon_threadsafe`` to hand the result back. A call whose future is already done
(cancelled, or answered otherwise: its request timed out while queued) is skipped.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
A = TypeVar("A")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[Any], Any], Any]


class RunThreads:
    def __init__(self, count: int) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"run-{index}", daemon=True)
            for index in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, function: Callable[[A], T], argument: A) -> asyncio.Future[T]:
        """Call ``function(argument)`` on a run thread; await the returned future."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, function, argument))
        return future

    def stop(self) -> None:
        """Let the threads end once the calls already queued are done."""
        for _ in self._threads:
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, function, argument = job
            if future.done():  # nobody waits for this call any more
                continue
            try:
                result, error = function(argument), None
            except BaseException as exc:  # handed to the awaiting coroutine
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_resolve, future, result, error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                return


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled or timed out meanwhile
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
