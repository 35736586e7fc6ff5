"""One worker's share of the concurrency limit (modelpack/inference_server/slots.py): a slot
freed by another worker goes to the request queued here, a request that waits too long leaves
the queue, and a cancelled one leaves nothing held. Two Slots on one SharedState stand for two
workers."""

from __future__ import annotations

import asyncio

from modelpack.inference_server.shared import SharedState
from modelpack.inference_server.slots import Slots


def test_a_slot_freed_by_another_worker_goes_to_the_request_queued_here(run) -> None:
    shared = SharedState.create(workers=2, max_concurrent_requests=1)
    first, second = Slots(shared, 0, 5.0), Slots(shared, 1, 5.0)

    async def scenario() -> tuple[bool, list[int], int]:
        assert first.try_take()
        assert not second.try_take()
        queued = asyncio.create_task(second.wait())
        await asyncio.sleep(0.01)
        waiting = shared.queued_total()
        first.give()
        return await asyncio.wait_for(queued, 5), list(shared.in_flight), waiting

    try:
        granted, in_flight, waiting = run(scenario())
    finally:
        first.close()
        second.close()
    assert granted
    assert waiting == 1
    assert in_flight == [0, 1]
    assert shared.queued_total() == 0


def test_a_request_that_waits_too_long_leaves_the_queue(run) -> None:
    shared = SharedState.create(workers=1, max_concurrent_requests=1)
    slots = Slots(shared, 0, 0.05)

    async def scenario() -> tuple[bool, float, bool]:
        loop = asyncio.get_running_loop()
        assert slots.try_take()
        started = loop.time()
        granted = await slots.wait()
        waited = loop.time() - started
        slots.give()
        # Nobody is queued any more, so the slot freed is free to take at once.
        return granted, waited, slots.try_take()

    try:
        granted, waited, taken_after = run(scenario())
    finally:
        slots.close()
    assert not granted
    assert 0.04 <= waited < 1.0
    assert taken_after
    assert shared.queued_total() == 0


def test_a_cancelled_request_holds_nothing(run) -> None:
    shared = SharedState.create(workers=1, max_concurrent_requests=1)
    slots = Slots(shared, 0, 5.0)

    async def scenario() -> bool:
        assert slots.try_take()
        queued = asyncio.create_task(slots.wait())
        await asyncio.sleep(0.01)
        queued.cancel()
        await asyncio.gather(queued, return_exceptions=True)
        slots.give()
        return slots.try_take()

    try:
        assert run(scenario())
    finally:
        slots.close()
    assert shared.queued_total() == 0
    assert list(shared.in_flight) == [1]
