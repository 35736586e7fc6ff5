"""Runs the workers as spawned processes and keeps them running.

With one worker the supervisor binds the port and hands the socket to it, so connections
queue while that worker is replaced; with several, each worker binds its own socket to the
port (``SO_REUSEPORT``).

The supervisor forwards SIGTERM/SIGINT to the workers and waits for them to finish their
requests; stops everything, exiting with the worker's code 3, when a worker could not load the
model; and replaces a worker that dies or hangs. A hung worker is one whose event loop (the
one answering the liveness route) has not beaten for ``WORKER_TIMEOUT`` seconds: it is killed.
A worker that keeps failing is restarted after a pause that doubles each time (first at once,
then 0.5 s, 1 s, ... up to 30 s); one that ran for 30 s starts the count again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from . import worker
from .settings import Settings
from .shared import SharedState

logger = logging.getLogger("inference.supervisor")

WATCH_INTERVAL_S = 0.5
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 30.0


def run(settings: Settings) -> int:
    address = f"{settings.host}:{settings.port}"
    if settings.workers == 1:
        sock: socket.socket | None = worker.bind(settings.host, settings.port)
    else:
        # Each worker binds its own socket to the port; fail here if the port is taken.
        worker.bind(settings.host, settings.port, reuse_port=True).close()
        sock = None
    logger.info("listening on %s with %d worker(s)", address, settings.workers)
    return Supervisor(settings, sock).run()


def restart_pause(failures: int) -> float:
    """Seconds to wait before restarting a worker after its `failures`-th failure in a row."""
    if failures <= 1:
        return 0.0
    return min(FIRST_BACKOFF_S * 2 ** (failures - 2), MAX_BACKOFF_S)


@dataclass
class Slot:
    """One worker position: its current process, if any, and its recent failures."""

    index: int
    process: BaseProcess | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    killed_as_hung: bool = False


class Supervisor:
    def __init__(self, settings: Settings, sock: socket.socket | None = None) -> None:
        self.settings = settings
        self.sock = sock
        self.context = multiprocessing.get_context("spawn")
        self.shared = SharedState(settings.workers, settings.max_concurrent_requests, self.context)
        self.slots = [Slot(index) for index in range(settings.workers)]
        self.stopping = False
        self.exit_code = 0

    def run(self) -> int:
        own_metrics_dir = self.settings.workers > 1 and not os.environ.get(
            "PROMETHEUS_MULTIPROC_DIR"
        )
        if own_metrics_dir:
            metrics_dir = tempfile.mkdtemp(prefix="inference-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # inherited by the workers
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            for slot in self.slots:
                self._spawn(slot)
            self._watch()
        finally:
            if own_metrics_dir:
                shutil.rmtree(metrics_dir, ignore_errors=True)
            self._close_socket()
        return self.exit_code

    def _spawn(self, slot: Slot) -> None:
        self.shared.forget_worker(slot.index)
        process = self.context.Process(
            target=worker.main,
            args=(self.settings, self.shared, slot.index, self.sock),
            name=f"inference-worker-{slot.index}",
        )
        process.start()
        slot.process, slot.started_at, slot.restart_at = process, time.monotonic(), None
        slot.killed_as_hung = False
        logger.info("started worker %d (pid %s)", slot.index, process.pid)

    def _watch(self) -> None:
        while True:
            running = [s.process for s in self.slots if s.process and s.process.exitcode is None]
            if self.stopping and not running:
                return
            wait([process.sentinel for process in running], timeout=WATCH_INTERVAL_S)
            now = time.monotonic()
            for slot in self.slots:
                if slot.process is not None and slot.process.exitcode is not None:
                    self._worker_exited(slot, now)
                elif slot.process is not None:
                    self._kill_if_hung(slot, now)
                if slot.restart_at is not None and now >= slot.restart_at and not self.stopping:
                    self._spawn(slot)

    def _kill_if_hung(self, slot: Slot, now: float) -> None:
        timeout = self.settings.worker_timeout_s
        last_beat = self.shared.heartbeat[slot.index]
        if not timeout or not last_beat or slot.killed_as_hung or now - last_beat < timeout:
            return
        assert slot.process is not None and slot.process.pid is not None
        logger.error(
            "worker %d (pid %s) did not answer for %.0f s; killing it",
            slot.index,
            slot.process.pid,
            now - last_beat,
        )
        slot.killed_as_hung = True
        # A hung process may not act on SIGTERM (a stalled loop, a stopped process).
        os.kill(slot.process.pid, signal.SIGKILL)

    def _worker_exited(self, slot: Slot, now: float) -> None:
        from prometheus_client import multiprocess as prometheus_multiprocess

        process = slot.process
        assert process is not None and process.pid is not None
        slot.process = None
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            prometheus_multiprocess.mark_process_dead(process.pid)
        self.shared.forget_worker(slot.index)
        if self.stopping:
            return
        if process.exitcode == worker.BOOT_FAILED:
            logger.critical("worker %d could not load the model; stopping", slot.index)
            self.exit_code = worker.BOOT_FAILED
            self._stop()
            return
        if now - slot.started_at >= STABLE_AFTER_S:
            slot.failures = 0
        slot.failures += 1
        pause = restart_pause(slot.failures)
        slot.restart_at = now + pause
        logger.error(
            "worker %d (pid %s) %s; starting a new one in %.1f s",
            slot.index,
            process.pid,
            "was killed as hung" if slot.killed_as_hung else f"exited with code {process.exitcode}",
            pause,
        )

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info(
            "received %s; letting the workers finish their requests", signal.Signals(signum).name
        )
        self._stop()

    def _stop(self) -> None:
        self.stopping = True
        # Once the workers close theirs, new connections are refused instead of queued.
        self._close_socket()
        for slot in self.slots:
            slot.restart_at = None
            process = slot.process
            if process is not None and process.exitcode is None and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    def _close_socket(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
