"""The supervisor restarts a worker that crashes or hangs (stops answering its liveness
check), with a growing pause between restarts of a worker that keeps failing."""

from __future__ import annotations

import itertools
import re
import threading

import httpx
import pytest

# run() hangs the worker the first time (SIGSTOP: the process stops answering anything,
# liveness included) and answers its pid afterwards.
HANGS_ONCE = """
import os
import signal

def init():
    pass

def run(raw_data):
    flag = os.path.join(os.environ["FLAG_DIR"], "hung")
    if not os.path.exists(flag):
        open(flag, "w").close()
        os.kill(os.getpid(), signal.SIGSTOP)
    return os.getpid()
"""

CRASHES_ON_REQUEST = """
import os

def init():
    pass

def run(raw_data):
    if raw_data == "crash":
        os._exit(1)
    return os.getpid()
"""

# init() kills its worker the first CRASHES times (a segfaulting native library, say).
CRASHES_AT_START = """
import os
import time

CRASHES = 4

def init():
    folder = os.environ["FLAG_DIR"]
    starts = len(os.listdir(folder))
    with open(os.path.join(folder, f"start-{starts}"), "w") as f:
        f.write(repr(time.monotonic()))
    if starts < CRASHES:
        os._exit(1)

def run(raw_data):
    return "served"
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_hung_worker_is_killed_and_replaced(start_server, make_script, tmp_path, workers):
    flags = tmp_path / "flags"
    flags.mkdir()
    server = start_server(
        "--entry_script",
        str(make_script(HANGS_ONCE)),
        env={"WORKER_COUNT": workers, "WORKER_TIMEOUT": "3", "FLAG_DIR": str(flags)},
    )
    server.wait_ready()
    hung: list[BaseException] = []

    def send_the_hanging_request() -> None:
        try:
            server.client.post("/score", content=b"{}", timeout=20)
        except httpx.HTTPError as error:  # the worker holding it is killed
            hung.append(error)

    sender = threading.Thread(target=send_the_hanging_request)
    sender.start()
    sender.join(60)
    assert hung, "the request to the hung worker was answered"

    assert "did not answer for" in server.logs()
    server.wait_ready(30)
    with httpx.Client(base_url=server.base_url) as fresh:
        answer = fresh.post("/score", content=b"{}", timeout=30)
    assert answer.status_code == 200
    assert fresh_pid_differs(server, answer.json())


def fresh_pid_differs(server, pid: int) -> bool:
    killed = re.findall(r"worker \d+ \(pid (\d+)\) did not answer", server.logs())
    return bool(killed) and str(pid) not in killed


def test_a_worker_that_crashes_while_serving_is_replaced(start_server, make_script, wait_until):
    server = start_server("--entry_script", str(make_script(CRASHES_ON_REQUEST)))
    server.wait_ready()
    first_pid = server.client.post("/score", content=b"{}").json()

    with pytest.raises(httpx.HTTPError):
        server.client.post("/score", content=b"crash")

    server.wait_ready(30)
    with httpx.Client(base_url=server.base_url) as fresh:
        answer = fresh.post("/score", content=b"{}")
    assert answer.status_code == 200
    assert answer.json() != first_pid
    assert server.process.poll() is None


def test_restarts_of_a_crashing_worker_back_off(start_server, make_script, tmp_path):
    flags = tmp_path / "flags"
    flags.mkdir()
    server = start_server(
        "--entry_script", str(make_script(CRASHES_AT_START)), env={"FLAG_DIR": str(flags)}
    )
    server.wait_ready(60)
    assert server.client.post("/score", content=b"{}").json() == "served"

    pauses = [
        float(pause) for pause in re.findall(r"starting a new one in ([0-9.]+) s", server.logs())
    ]
    assert pauses == [0.0, 0.5, 1.0, 2.0], server.logs()
    starts = sorted(float((flags / f"start-{n}").read_text()) for n in range(5))
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    for gap, pause in zip(gaps, pauses, strict=True):
        assert gap >= pause, (gaps, pauses)
