"""Failures and limits: each answered with a JSON status, never a hang or a traceback."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest


def test_run_exception_is_a_500_with_the_request_id(start_server, make_script, wait_until):
    script = make_script("""
        def init():
            pass

        def run(raw_data):
            raise ValueError("the model cannot score 'nothing'")
    """)
    server = start_server("--entry_script", str(script))
    server.wait_ready()

    response = server.client.post("/score", content=b"nothing", headers={"x-request-id": "req-42"})

    assert response.status_code == 500
    assert response.headers["x-ms-run-function-failed"] == "True"
    body = response.json()
    assert body["request_id"] == "req-42"
    assert "the model cannot score 'nothing'" in body["error"]
    assert "Traceback" not in response.text and "score.py" not in response.text

    def traceback_logged() -> bool:
        return any(
            r.get("request_id") == "req-42" and "Traceback" in r.get("exc_info", "")
            for r in server.log_records()
        )

    wait_until(traceback_logged, 10, "the traceback in the log")


def test_init_failure_ends_the_process_with_the_cause_in_the_log(start_server, make_script):
    script = make_script("""
        def init():
            raise FileNotFoundError("no model at /nowhere/model.pkl")

        def run(raw_data):
            return None
    """)
    server = start_server("--entry_script", str(script))

    assert server.wait_exit(60) != 0
    logs = server.logs()
    assert "no model at /nowhere/model.pkl" in logs
    assert "Traceback" in logs


def test_a_script_without_run_is_refused(start_server, make_script):
    script = make_script("def init():\n    pass\n")
    server = start_server("--entry_script", str(script))
    assert server.wait_exit(60) != 0
    assert "does not define run()" in server.logs()


def test_not_ready_until_a_slow_init_finishes(start_server, make_script, tmp_path):
    flag = tmp_path / "init-may-finish"
    script = make_script(f"""
        import os
        import time

        def init():
            while not os.path.exists({str(flag)!r}):
                time.sleep(0.01)

        def run(raw_data):
            return "scored"
    """)
    server = start_server("--entry_script", str(script))
    server.wait_live()

    assert server.client.get("/readyz").status_code == 503
    assert server.client.post("/score", content=b"{}").status_code == 503
    assert server.client.get("/").status_code == 200

    flag.touch()
    server.wait_ready(30)
    assert server.client.post("/score", content=b"{}").json() == "scored"


@pytest.mark.parametrize("workers", ["1", "2"])  # the limit is per instance, not per worker
def test_requests_beyond_the_concurrency_limit_get_429(start_server, make_script, gate, workers):
    script = make_script(
        gate.SOURCE
        + """
def init():
    pass

def run(raw_data):
    wait_for_release()
    return "done"
"""
    )
    server = start_server(
        "--entry_script",
        str(script),
        env={
            "MAX_CONCURRENT_REQUESTS_PER_INSTANCE": "1",
            "MAX_QUEUE_WAIT_MS": "100",
            "WORKER_COUNT": workers,
            **gate.env,
        },
    )
    server.wait_ready()
    first: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: first.append(server.client.post("/score", content=b"1"))
    )
    sender.start()
    gate.wait_started()

    for _ in range(4):  # on new connections, which reach either worker
        with httpx.Client(base_url=server.base_url) as other:
            started = time.monotonic()
            second = other.post("/score", content=b"2")
        assert second.status_code == 429
        assert time.monotonic() - started >= 0.1  # it queued for max_queue_wait_ms first
        assert "limit" in second.json()["message"]

    gate.release()
    sender.join(30)
    assert first[0].status_code == 200
    assert server.client.post("/score", content=b"3").status_code == 200


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_queue_behind_the_limit_drains_as_fast_as_run_answers(start_server, make_script, workers):
    """Forty requests queued at once behind a limit of 1: a slot freed is taken at once, so
    all are answered within max_queue_wait_ms. (Waiters that polled the limit on timers took a
    freed slot only at their next poll, up to 10 ms later, whatever run() cost.)"""
    script = make_script("""
        import time

        def init():
            pass

        def run(raw_data):
            time.sleep(0.002)
            return raw_data
    """)
    server = start_server(
        "--entry_script",
        str(script),
        env={
            "MAX_CONCURRENT_REQUESTS_PER_INSTANCE": "1",
            "MAX_QUEUE_WAIT_MS": "400",
            "WORKER_COUNT": workers,
        },
    )
    server.wait_ready()
    bodies = [str(index).encode() for index in range(40)]

    answers = server.post_together(bodies, in_flight=1)

    assert [status for status, _ in answers] == [200] * 40, answers
    assert [json.loads(body) for _, body in answers] == [body.decode() for body in bodies]


def test_queued_requests_are_served_in_arrival_order(start_server, make_script, gate, wait_until):
    script = make_script(
        gate.SOURCE
        + """
served = []

def init():
    pass

def run(raw_data):
    if raw_data == "first":
        wait_for_release()
    served.append(raw_data)
    return served
"""
    )
    server = start_server(
        "--entry_script",
        str(script),
        env={
            "MAX_CONCURRENT_REQUESTS_PER_INSTANCE": "1",
            "MAX_QUEUE_WAIT_MS": "10000",
            "WORKER_COUNT": "1",
            **gate.env,
        },
    )
    server.wait_ready()
    answers: dict[str, httpx.Response] = {}

    def send(body: str) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            answers[body] = client.post("/score", content=body.encode())

    senders = [threading.Thread(target=send, args=("first",))]
    senders[0].start()
    gate.wait_started()
    queued = [f"queued-{index}" for index in range(6)]
    for count, body in enumerate(queued, 1):  # each once the one before it is queued
        senders.append(threading.Thread(target=send, args=(body,)))
        senders[-1].start()
        wait_until(lambda n=count: server.metric("inference_requests_queued") == n, 10, body)
        time.sleep(0.02)  # a few polls of a timer-driven queue apart
    time.sleep(0.3)
    assert not answers  # all still queued behind the first
    gate.release()
    for sender in senders:
        sender.join(30)
    assert {body: answer.status_code for body, answer in answers.items()} == dict.fromkeys(
        ["first", *queued], 200
    )
    assert answers[queued[-1]].json() == ["first", *queued]


def test_a_request_that_takes_too_long_is_answered(start_server, make_script, gate):
    script = make_script(
        gate.SOURCE
        + """
def init():
    pass

def run(raw_data):
    wait_for_release()
    return "late"
"""
    )
    server = start_server(
        "--entry_script", str(script), env={"REQUEST_TIMEOUT_MS": "300", **gate.env}
    )
    server.wait_ready()

    started = time.monotonic()
    response = server.client.post("/score", content=b"{}", headers={"x-request-id": "slow-1"})
    elapsed = time.monotonic() - started

    assert response.status_code == 504
    assert response.json() == {"message": "Scoring timeout after 300 ms", "request_id": "slow-1"}
    assert elapsed < 5
    gate.release()


def test_bodies_over_the_limit_get_413(start_server, make_script):
    script = make_script("""
        def init():
            pass

        def run(raw_data):
            return len(raw_data)
    """)
    server = start_server("--entry_script", str(script), env={"MAX_REQUEST_BODY_BYTES": "1000"})
    server.wait_ready()

    assert server.client.post("/score", content=b"x" * 1000).json() == 1000
    declared = server.client.post("/score", content=b"x" * 1001)
    assert declared.status_code == 413

    def chunks():  # no Content-Length: the limit is applied while reading
        for _ in range(4):
            yield b"x" * 400

    streamed = server.client.post("/score", content=chunks())
    assert streamed.status_code == 413
    assert server.client.post("/score", content=b"ok").json() == 2
