"""Each worker's threads on one CPU (modelpack/inference_server/cpu_pinning.py)."""

from __future__ import annotations

import os

import httpx
import pytest

from modelpack.inference_server.cpu_pinning import worker_cpu

# run() answers its worker's pid and the CPUs each of the worker's threads may run on.
REPORTS_AFFINITY = """
import os

def init():
    pass

def run(raw_data):
    threads = {}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/status") as status:
            for line in status:
                if line.startswith("Cpus_allowed_list:"):
                    threads[tid] = line.split(":", 1)[1].strip()
    return {"pid": os.getpid(), "threads": threads}
"""


@pytest.mark.parametrize(
    "mode, worker, workers, allowed, cpu",
    [
        ("auto", 0, 2, {0, 1}, 0),
        ("auto", 1, 2, {0, 1}, 1),
        ("auto", 3, 4, {2, 5}, 5),  # two workers on each CPU, in turn
        ("auto", 0, 1, {0, 1}, None),  # fewer workers than CPUs: left to the kernel
        ("auto", 0, 3, {0, 1}, None),
        ("on", 0, 1, {4, 6}, 4),
        ("on", 2, 3, {4, 6}, 4),
        ("off", 0, 2, {0, 1}, None),
        ("on", 0, 1, {3}, None),  # one CPU: nothing to choose
    ],
)
def test_which_cpu_a_worker_is_pinned_to(
    mode: str, worker: int, workers: int, allowed: set[int], cpu: int | None
) -> None:
    assert worker_cpu(mode, worker, workers, allowed) == cpu


def _answer_on_new_connection(server) -> dict:
    answer = httpx.post(server.url("/score"), json={}, headers={"connection": "close"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _cpus(cpu_list: str) -> set[int]:
    """The CPUs of a list as /proc writes it (``0-3,5``)."""
    cpus: set[int] = set()
    for part in cpu_list.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


CPUS = sorted(os.sched_getaffinity(0))


@pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs to choose from")
@pytest.mark.parametrize(
    "mode, workers",
    [
        pytest.param(
            "auto",
            len(CPUS),
            marks=pytest.mark.skipif(len(CPUS) > 8, reason="a worker per CPU is too many"),
        ),
        ("on", 2),  # fewer workers than CPUs on most machines: auto would leave them be
        ("off", 2),
    ],
)
def test_each_worker_runs_every_thread_on_a_cpu_of_its_own(
    start_server, make_script, wait_until, mode, workers
):
    script = make_script(REPORTS_AFFINITY)
    env = {"WORKER_COUNT": str(workers), "WORKER_CPU_PINNING": mode}
    server = start_server("--entry_script", str(script), env=env).wait_ready()
    # SO_REUSEPORT spreads new connections over the workers: ask until each has answered.
    answers: dict[int, dict[str, str]] = {}
    for _ in range(400):
        answer = _answer_on_new_connection(server)
        answers[answer["pid"]] = answer["threads"]
        if len(answers) == workers:
            break
    assert len(answers) == workers, f"{len(answers)} of {workers} workers answered"
    if mode == "off":
        for threads in answers.values():
            assert all(_cpus(cpus) == set(CPUS) for cpus in threads.values()), threads
        return
    pinned = []
    for threads in answers.values():
        assert len(threads) >= 3  # the event loop, a run thread, the log flusher
        (cpu,) = set(threads.values())  # every thread of the worker on the same CPU
        (number,) = _cpus(cpu)  # and that one CPU alone
        pinned.append(number)
    assert sorted(pinned) == CPUS[:workers]  # worker i on the i-th CPU
    expected = sorted(f"worker {i} runs on CPU {cpu}" for i, cpu in enumerate(CPUS[:workers]))

    def logged() -> list[str]:
        return sorted(r["message"] for r in server.log_records() if " runs on CPU " in r["message"])

    wait_until(lambda: logged() == expected, 5, "a line per pinned worker")
