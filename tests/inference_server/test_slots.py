"""One worker's share of the concurrency limit (modelpack/inference_server/slots.py): a slot
freed by another worker goes to the request queued here, a request that waits too long leaves
the queue, and a cancelled one leaves nothing held. Two Slots on one SharedState stand for two
workers."""

from __future__ import annotations

import asyncio

from modelpack.inference_server import slots as slots_module
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

    granted, in_flight, waiting = run(scenario())
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

    granted, waited, taken_after = run(scenario())
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

    assert run(scenario())
    assert shared.queued_total() == 0
    assert list(shared.in_flight) == [1]


def test_a_freed_slot_goes_to_the_next_request_queued_in_the_same_worker(run) -> None:
    shared = SharedState.create(workers=1, max_concurrent_requests=1)
    slots = Slots(shared, 0, 5.0)

    async def scenario() -> list[str]:
        events = []
        assert slots.try_take()
        first = asyncio.create_task(slots.wait())
        second = asyncio.create_task(slots.wait())
        await asyncio.sleep(0.01)
        slots.give()
        events.append(f"handed over, in flight {list(shared.in_flight)}")
        await asyncio.wait_for(first, 5)
        events.append(f"first granted, second waiting: {not second.done()}")
        slots.give()
        await asyncio.wait_for(second, 5)
        events.append("second granted")
        slots.give()
        return events

    assert run(scenario()) == [
        "handed over, in flight [1]",  # never given back to the shared limit in between
        "first granted, second waiting: True",
        "second granted",
    ]
    assert list(shared.in_flight) == [0]


def test_a_freed_slot_goes_to_the_worker_whose_queue_has_waited_longest(run, monkeypatch) -> None:
    monkeypatch.setattr(slots_module, "POLL_S", 5.0)  # only a wake-up can hand a slot over
    shared = SharedState.create(workers=2, max_concurrent_requests=1)
    first, second = Slots(shared, 0, 10.0), Slots(shared, 1, 10.0)

    async def scenario() -> tuple[list[int], list[str]]:
        assert first.try_take()
        there = asyncio.create_task(second.wait(), name="there")
        await asyncio.sleep(slots_module.FAIRNESS_S * 4)
        here = asyncio.create_task(first.wait(), name="here")
        await asyncio.sleep(0.01)
        first.give()
        freed = list(shared.in_flight)  # back to the limit, and the other worker woken
        order = []
        owners = {here: first, there: second}
        while owners:
            done, _ = await asyncio.wait(owners, timeout=2, return_when=asyncio.FIRST_COMPLETED)
            assert done, f"{order} granted, then nothing"
            for task in done:
                assert task.result()
                order.append(task.get_name())
                owners.pop(task).give()
        return freed, order

    freed, order = run(scenario())
    assert freed == [0, 0]
    assert order == ["there", "here"]  # then back here, woken by the other worker's give
    assert list(shared.in_flight) == [0, 0]


def test_a_freed_slot_stays_in_its_worker_when_no_other_queue_waited_longer(run) -> None:
    shared = SharedState.create(workers=2, max_concurrent_requests=1)
    first, second = Slots(shared, 0, 10.0), Slots(shared, 1, 10.0)

    async def scenario() -> list[int]:
        assert first.try_take()
        here = asyncio.create_task(first.wait())
        await asyncio.sleep(0.01)
        there = asyncio.create_task(second.wait())  # came later
        await asyncio.sleep(0.001)
        first.give()
        kept = list(shared.in_flight)
        assert await asyncio.wait_for(here, 2)
        first.give()  # now the other worker's request is the only one queued
        assert await asyncio.wait_for(there, 2)
        second.give()
        return kept

    assert run(scenario()) == [1, 0]
    assert list(shared.in_flight) == [0, 0]
