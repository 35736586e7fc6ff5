"""Each worker's threads on one CPU (``WORKER_CPU_PINNING``).

A worker's event loop and its run threads take turns under one GIL. Left to the kernel, the
thread woken for its turn usually runs on another CPU than the one that just held the GIL,
so every turn moves the interpreter's working set (the model's code and data, the request,
the allocator's pools) from one CPU's caches to another's. On two cores this cost 12-16 µs
of CPU a request in-process (``bench/request_path.py`` under ``taskset``) and more on the
wire (``bench/bench_floor.py``); on one CPU the turns cost next to nothing, and one worker
cannot use two CPUs at once anyway. The model's own threads (BLAS, torch) are confined to
the worker's CPU too.

``auto`` (the default) pins worker ``i`` to the ``i``-th CPU the server may run on, only
when the workers are a whole multiple of those CPUs (the default worker count is one per
CPU): every CPU then gets as many workers as any other, and several servers on one host
pinned this way still share the CPUs evenly. With fewer workers than CPUs, every server
would pin its worker 0 to the same CPU, so ``auto`` leaves them to the kernel; ``on`` pins
them anyway (for an instance whose CPUs are its own), ``off`` never pins.
"""

from __future__ import annotations

import os

PINNING_MODES = ("auto", "on", "off")


def worker_cpu(mode: str, worker: int, workers: int, allowed: set[int]) -> int | None:
    """The CPU worker ``worker`` of ``workers`` is pinned to, or None to leave it to the
    kernel; ``allowed`` is the CPUs the server may run on."""
    if mode == "off" or len(allowed) < 2:  # one CPU: there is nothing to choose
        return None
    if mode == "auto" and workers % len(allowed) != 0:
        return None
    return sorted(allowed)[worker % len(allowed)]


def pin_worker(mode: str, worker: int, workers: int) -> int | None:
    """Pin the calling thread (a worker's main thread, before it starts any other: they
    inherit its CPU) as ``worker_cpu`` says; returns the CPU, or None if not pinned.
    Raises OSError if the kernel refuses."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return None
    cpu = worker_cpu(mode, worker, workers, allowed)
    if cpu is None:
        return None
    os.sched_setaffinity(0, {cpu})
    return cpu
