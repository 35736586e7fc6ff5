"""Worker processes and shutdown."""

from __future__ import annotations

import threading

import httpx
import pytest

PID_SCRIPT = """
import os

def init():
    pass

def run(raw_data):
    return os.getpid()
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_lets_the_request_in_flight_finish(start_server, make_script, gate, workers):
    script = make_script(
        gate.SOURCE
        + """
def init():
    pass

def run(raw_data):
    wait_for_release()
    return "finished"
"""
    )
    server = start_server("--entry_script", str(script), env={"WORKER_COUNT": workers, **gate.env})
    server.wait_ready()
    answers: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: answers.append(server.client.post("/score", content=b"{}"))
    )
    sender.start()
    gate.wait_started()

    server.terminate()
    with pytest.raises(httpx.TransportError):  # new connections are refused meanwhile...
        for _ in range(200):
            httpx.get(server.url("/"), timeout=0.5)
    assert server.process.poll() is None  # ...but the process waits for its request

    gate.release()
    sender.join(30)
    assert answers[0].status_code == 200
    assert answers[0].json() == "finished"
    assert server.wait_exit(30) == 0


def test_two_workers_share_the_port(start_server, make_script, wait_until):
    script = make_script(PID_SCRIPT)
    server = start_server("--entry_script", str(script), "--worker_count", "2")
    server.wait_ready()

    pids: set[int] = set()

    def both_workers_answered() -> bool:
        # New connections are spread over the workers by the kernel.
        with httpx.Client(base_url=server.base_url) as fresh:
            pids.add(fresh.post("/score", content=b"{}").json())
        return len(pids) == 2

    wait_until(both_workers_answered, 30, "answers from two worker processes")
    assert server.process.pid not in pids


def test_a_failed_init_in_any_worker_stops_the_server(start_server, make_script):
    script = make_script("""
        def init():
            raise RuntimeError("cannot load the model")

        def run(raw_data):
            return None
    """)
    server = start_server("--entry_script", str(script), "--worker_count", "2")
    assert server.wait_exit(60) == 3
    assert "cannot load the model" in server.logs()
