"""Runs the workers: in this process when there is one, else as spawned processes that each
listen on the port (``SO_REUSEPORT``).

With several workers this process forwards SIGTERM/SIGINT to them and waits for them to
finish their requests; replaces a worker that dies; and stops everything, exiting with the
worker's code 3, when a worker could not load the model.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from inference import worker
from inference.settings import Settings
from inference.shared import SharedState

logger = logging.getLogger("inference.supervisor")


def run(settings: Settings) -> int:
    address = f"{settings.host}:{settings.port}"
    if settings.workers == 1:
        sock = worker.bind(settings.host, settings.port)
        logger.info("listening on %s with 1 worker", address)
        shared = SharedState.create(1, settings.max_concurrent_requests)
        return worker.serve(settings, sock, shared, 0)
    # Each worker binds its own socket to the port; fail here if the port is taken.
    worker.bind(settings.host, settings.port, reuse_port=True).close()
    logger.info("listening on %s with %d workers", address, settings.workers)
    return Supervisor(settings).run()


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.context = multiprocessing.get_context("spawn")
        self.shared = SharedState(settings.workers, settings.max_concurrent_requests, self.context)
        self.processes: list[BaseProcess] = []
        self.stopping = False
        self.exit_code = 0

    def run(self) -> int:
        metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        own_metrics_dir = not metrics_dir
        if not metrics_dir:
            metrics_dir = tempfile.mkdtemp(prefix="inference-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # inherited by the workers
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.processes = [self._spawn(index) for index in range(self.settings.workers)]
            self._watch()
        finally:
            if own_metrics_dir:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        return self.exit_code

    def _spawn(self, index: int) -> BaseProcess:
        process = self.context.Process(
            target=worker.main,
            args=(self.settings, self.shared, index),
            name=f"inference-worker-{index}",
        )
        process.start()
        logger.info("started worker %d (pid %s)", index, process.pid)
        return process

    def _watch(self) -> None:
        while True:
            alive = [p for p in self.processes if p.exitcode is None]
            if self.stopping and not alive:
                return
            wait([p.sentinel for p in alive], timeout=0.5)
            if self.stopping:
                continue
            for index, process in enumerate(self.processes):
                if process.exitcode is not None:
                    self._worker_exited(index, process)

    def _worker_exited(self, index: int, process: BaseProcess) -> None:
        from prometheus_client import multiprocess as prometheus_multiprocess

        assert process.pid is not None
        prometheus_multiprocess.mark_process_dead(process.pid)
        self.shared.forget_worker(index)
        if process.exitcode == worker.BOOT_FAILED:
            logger.critical("worker %d could not load the model; stopping", index)
            self.exit_code = worker.BOOT_FAILED
            self._stop()
            return
        logger.error(
            "worker %d (pid %s) exited with code %s; starting a new one",
            index,
            process.pid,
            process.exitcode,
        )
        self.processes[index] = self._spawn(index)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info(
            "received %s; letting the workers finish their requests", signal.Signals(signum).name
        )
        self._stop()

    def _stop(self) -> None:
        self.stopping = True
        for process in self.processes:
            if process.exitcode is None and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
