"""The batcher of one worker (modelpack/inference_server/batching.py): when batches go to the
model, how big they get, and what happens to requests that time out or fail."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from modelpack.inference_server.batching import Batcher
from modelpack.inference_server.run_threads import RunThreads
from modelpack.inference_server.scoring import Reply, ScoreRequest
from modelpack.inference_server.settings import BatchSettings


class Model:
    """A score_batch that answers each request with its id, taking ``seconds`` per batch,
    and records the ids of each batch."""

    def __init__(self, seconds: float = 0.0, fails: bool = False) -> None:
        self.seconds = seconds
        self.fails = fails
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()

    def score_batch(self, requests: list[ScoreRequest]) -> list[Reply]:
        with self.lock:
            self.batches.append([r.request_id for r in requests])
        time.sleep(self.seconds)
        if self.fails:
            raise RuntimeError("broken")
        return [Reply(200, r.request_id.encode()) for r in requests]


def request(request_id: str) -> ScoreRequest:
    return ScoreRequest("POST", "/score", b"", [], b"{}", request_id)


class Worker:
    """Counts the requests a worker is answering, as its shared count would: those submitted
    and not yet answered, plus ``receiving`` (requests still being read)."""

    def __init__(self, receiving: int = 0) -> None:
        self.receiving = receiving
        self.answers: list[asyncio.Future[Reply]] = []

    def in_flight(self) -> int:
        return self.receiving + sum(not answer.done() for answer in self.answers)


def batcher(
    model: Model,
    max_size: int,
    max_latency_ms: int,
    threads: int = 1,
    worker: Worker | None = None,
) -> Batcher:
    settings = BatchSettings(max_size=max_size, max_latency_ms=max_latency_ms)
    worker = worker or Worker()
    gather = Batcher(settings, RunThreads(threads), threads, model.score_batch, worker.in_flight)
    submit = gather.submit

    def counted(request: ScoreRequest) -> asyncio.Future[Reply]:
        answer = submit(request)
        worker.answers.append(answer)
        return answer

    gather.submit = counted  # type: ignore[method-assign]
    return gather


def test_requests_arriving_together_fill_batches_up_to_the_maximum(run) -> None:
    model = Model(seconds=0.05)

    async def main() -> list[bytes]:
        gather = batcher(model, max_size=4, max_latency_ms=20)
        answers = [gather.submit(request(str(i))) for i in range(10)]
        return [reply.body for reply in await asyncio.gather(*answers)]

    assert run(main()) == [str(i).encode() for i in range(10)]
    assert model.batches == [["0", "1", "2", "3"], ["4", "5", "6", "7"], ["8", "9"]]


def test_a_lone_request_is_sent_at_once(run) -> None:
    model = Model()

    async def main() -> float:
        gather = batcher(model, max_size=32, max_latency_ms=200)
        started = time.perf_counter()
        await gather.submit(request("alone"))
        return time.perf_counter() - started

    waited = run(main())
    assert waited < 0.1, waited
    assert model.batches == [["alone"]]


def test_a_request_still_being_received_is_waited_for_at_most_the_latency_bound(run) -> None:
    model = Model()
    worker = Worker(receiving=1)

    async def main() -> float:
        gather = batcher(model, max_size=32, max_latency_ms=30, worker=worker)
        started = time.perf_counter()
        await gather.submit(request("first"))
        return time.perf_counter() - started

    waited = run(main())
    assert 0.028 <= waited < 0.3, waited  # uvloop's clock counts whole ms
    assert model.batches == [["first"]]


def test_requests_that_arrive_in_one_turn_of_the_loop_are_sent_together(run) -> None:
    model = Model(seconds=0.05)

    async def main() -> None:
        gather = batcher(model, max_size=32, max_latency_ms=1000)
        first = [gather.submit(request(name)) for name in ("a", "b")]
        await asyncio.sleep(0.01)  # a, b are being scored: c, d wait for them, then go at once
        rest = [gather.submit(request(name)) for name in ("c", "d")]
        await asyncio.gather(*first, *rest)

    started = time.perf_counter()
    run(main())
    assert model.batches == [["a", "b"], ["c", "d"]]
    assert time.perf_counter() - started < 0.5  # not held for the 1 s bound


def test_with_no_latency_only_requests_queued_behind_a_busy_model_are_merged(run) -> None:
    model = Model(seconds=0.05)

    async def main() -> None:
        gather = batcher(model, max_size=32, max_latency_ms=0)
        first = gather.submit(request("first"))
        await asyncio.sleep(0.01)  # the first is being scored: the next three wait for it
        rest = [gather.submit(request(name)) for name in ("a", "b", "c")]
        await asyncio.gather(first, *rest)

    run(main())
    assert model.batches == [["first"], ["a", "b", "c"]]


def test_each_run_thread_takes_a_batch(run) -> None:
    model = Model(seconds=0.05)

    async def main() -> None:
        gather = batcher(model, max_size=2, max_latency_ms=20, threads=2)
        await asyncio.gather(*(gather.submit(request(str(i))) for i in range(6)))

    started = time.perf_counter()
    run(main())
    assert sorted(map(len, model.batches)) == [2, 2, 2]
    assert time.perf_counter() - started < 0.14  # two batches at a time: 2 x 50 ms, not 3


def test_a_request_that_timed_out_while_waiting_is_left_out(run) -> None:
    model = Model()

    async def main() -> None:
        gather = batcher(model, max_size=32, max_latency_ms=30)
        gone = gather.submit(request("gone"))
        kept = gather.submit(request("kept"))
        gone.cancel()
        assert (await kept).body == b"kept"

    run(main())
    assert model.batches == [["kept"]]


def test_a_batch_that_raises_fails_its_requests_and_the_next_batch_still_runs(run) -> None:
    model = Model(fails=True)

    async def main() -> None:
        gather = batcher(model, max_size=2, max_latency_ms=0)
        answers = [gather.submit(request(str(i))) for i in range(2)]
        for answer in answers:
            with pytest.raises(RuntimeError, match="broken"):
                await answer
        model.fails = False
        assert (await gather.submit(request("next"))).body == b"next"

    run(main())


def test_wake_ups_that_come_as_plain_handles() -> None:
    """uvloop answers call_at for less than half a millisecond ahead with call_soon's plain
    Handle, which has no when()."""
    model = Model()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_at = lambda when, callback, *args: loop.call_soon(callback, *args)  # type: ignore[method-assign]
        gather = batcher(model, max_size=32, max_latency_ms=5)
        await asyncio.gather(*(gather.submit(request(name)) for name in ("a", "b", "c")))

    asyncio.run(main())
    assert model.batches == [["a", "b", "c"]]
