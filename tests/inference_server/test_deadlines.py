"""Request timeouts of one worker (modelpack/inference_server/deadlines.py): an overdue request
is answered with None, an answered one is left alone, and one timer serves them all."""

from __future__ import annotations

import asyncio

from modelpack.inference_server.deadlines import Deadlines


def test_a_request_not_answered_in_time_is_answered_with_none(run) -> None:
    async def scenario() -> tuple[object, float]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        started = loop.time()
        Deadlines(0.05).watch(future)
        return await future, loop.time() - started

    answer, waited = run(scenario())
    assert answer is None
    assert 0.04 <= waited < 1.0


def test_an_answered_request_keeps_its_answer_and_a_later_one_still_times_out(run) -> None:
    async def scenario() -> tuple[str, object, float]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(0.1)
        answered: asyncio.Future[str] = loop.create_future()
        first = deadlines.watch(answered)
        await asyncio.sleep(0.05)
        late: asyncio.Future[str] = loop.create_future()
        started = loop.time()
        deadlines.watch(late)
        answered.set_result("scored")
        first.clear()
        # The timer set for the first deadline finds it cleared and waits for the second.
        return await answered, await late, loop.time() - started

    answer, late_answer, waited = run(scenario())
    assert answer == "scored"
    assert late_answer is None
    assert 0.09 <= waited < 1.0


def test_deadlines_fire_in_order_and_the_queue_keeps_only_pending_ones(run) -> None:
    async def scenario() -> tuple[list[int], int]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(0.05)
        timed_out: list[int] = []
        futures = []
        for index in range(100):
            future: asyncio.Future[str] = loop.create_future()
            future.add_done_callback(lambda _, index=index: timed_out.append(index))
            deadline = deadlines.watch(future)
            if index % 2:  # every other request is answered at once
                future.set_result("scored")
                deadline.clear()
            futures.append(future)
        await asyncio.gather(*futures)
        answered_later: asyncio.Future[str] = loop.create_future()
        deadlines.watch(answered_later).clear()
        return timed_out, len(deadlines._queue)

    done_order, queued = run(scenario())
    assert done_order[:50] == list(range(1, 100, 2))  # answered at once
    assert done_order[50:] == list(range(0, 100, 2))  # then the others timed out, in order
    assert queued == 1  # the timed-out and answered deadlines left the queue
