"""Serving settings, read once at start from environment variables and command-line flags.

Flags (same spelling as ``azmlinfsrv``) win over environment variables.

Model and script (Azure ML contract):

``AZUREML_MODEL_DIR`` (``--model_dir``)
    Directory holding the model files; score.py reads it with ``os.getenv``.
``AZUREML_ENTRY_SCRIPT`` (``--entry_script``)
    Path of score.py, absolute or relative to ``AML_APP_ROOT``. When unset and the model
    directory holds an MLflow model (an ``MLmodel`` file in it, in ``MLFLOW_MODEL_FOLDER``
    under it, or in its only sub-folder), that model is served without a script; else
    ``main.py`` in ``AML_APP_ROOT`` is used, as ``azmlinfsrv`` does.
``AML_APP_ROOT``
    Folder of the user's code, put on ``sys.path``; default: the current directory.
``AZUREML_SOURCE_DIRECTORY``
    Extra folder (relative to ``AML_APP_ROOT``) put on ``sys.path``.

Serving (an Azure ML deployment's ``request_settings`` map onto these):

``SERVER_HOST`` (``--host``), ``SERVER_PORT`` (``--port``)
    Listening address; default ``0.0.0.0:5001`` like ``azmlinfsrv``.
``WORKER_COUNT`` (``--worker_count``)
    Worker processes, each loading the model once. Default: the CPUs this process may use
    (``os.sched_getaffinity``, capped by the cgroup ``cpu.max`` quota).
``WORKER_CPU_PINNING``
    ``auto`` (default), ``on`` or ``off``: whether each worker's threads run on one CPU of
    their own (worker ``i`` on the ``i``-th CPU the server may use). ``auto`` pins when the
    workers are a whole multiple of those CPUs, as with the default ``WORKER_COUNT``; ``on``
    also with fewer workers, for an instance whose CPUs are its own. See
    ``inference.cpu_pinning``.
``RUN_THREADS``
    Threads per worker calling ``run()``; default 1, so a worker calls ``run()`` one request
    at a time, from the thread that called ``init()``, as ``azmlinfsrv`` does.
``MAX_CONCURRENT_REQUESTS_PER_INSTANCE``
    Scoring requests in progress at once across all workers; beyond it the answer is 429.
    Default 0: no limit.
``MAX_QUEUE_WAIT_MS``
    How long a scoring request beyond that limit waits for a slot before the 429; default 500,
    Azure ML's default ``max_queue_wait_ms``. Waiting requests take freed slots in the order
    they came (within a worker; across workers to within 5 ms, see ``slots.py``), seen as
    ``inference_requests_queued``.
``REQUEST_TIMEOUT_MS``
    Time a scoring request may take (waiting for a free run thread included); after it the
    answer is 504. ``SCORING_TIMEOUT_MS`` (``azmlinfsrv``'s name) is read when it is unset.
    Default 5000, Azure ML's default ``request_timeout_ms``; 0: no limit. Python cannot stop
    a thread: a ``run()`` that overran finishes in the background, holding its run thread.
``MAX_BATCH_SIZE``, ``MAX_BATCH_LATENCY_MS``
    Adaptive batching (a deployment's ``batching``, modelpack's own): each worker merges up
    to ``MAX_BATCH_SIZE`` scoring requests into one call of the model, holding a request at
    most ``MAX_BATCH_LATENCY_MS`` (default 5) for others to join; see ``inference.batching``.
    For MLflow models and a score.py defining ``run_batch``. Unset or 1: off.
``MAX_REQUEST_BODY_BYTES``
    Largest request body accepted; beyond it the answer is 413. Default 100 MiB.
``KEEP_ALIVE_TIMEOUT_S``
    Idle time before a kept-alive connection is closed; default 65 (longer than the idle
    timeout of the usual load balancers in front, so they close first).
``WORKER_TIMEOUT``
    Seconds a worker may go without answering its liveness check (its event loop stalled)
    before the server kills and replaces it; default 300, as ``azmlinfsrv``. Counted from the
    worker's first heartbeat, so a slow start is left to the readiness probe; 0: never.
``GRACEFUL_SHUTDOWN_TIMEOUT_S``
    On SIGTERM the server stops accepting connections and waits this long for the requests
    in flight; default 30.
``AZUREML_LOG_LEVEL``
    Level of the server's own logs (JSON lines on stdout, see ``inference.logs``); default
    INFO. A score.py's ``logging`` calls are left to the script, as in ``azmlinfsrv``.
``PROMETHEUS_MULTIPROC_DIR``
    With several workers, metrics are kept in this folder (a temporary one when unset).

Routes: ``GET /`` liveness, ``GET /readyz`` readiness, ``/score``, ``GET /swagger.json``,
``GET /metrics`` (see ``inference.app``). A deployment should probe readiness at ``/readyz``:
``/`` answers as soon as the process runs, before ``init()`` has finished.
``SERVICE_NAME``, ``SERVICE_VERSION``, ``SERVICE_PATH_PREFIX``
    Shown in ``/swagger.json``, as in ``azmlinfsrv``.

Data collection (a deployment's ``data_collector``; see ``inference.data_collection``):

``DATA_COLLECTION_DIR``
    The folder records go to (the deployment's folder of the workspace's store, mounted into
    the replica). Unset: nothing is collected.
``DATA_COLLECTION_COLLECTIONS``
    Comma-separated, of ``model_inputs`` (what the scoring code was given),
    ``model_outputs`` (what it answered, successful requests only), ``request`` and
    ``response`` (the HTTP bodies, with method, path, status and the captured headers).
``DATA_COLLECTION_SAMPLING_RATE``
    The share of requests recorded, 0.0 to 1.0; default 1.0.
``DATA_COLLECTION_ROLLING_RATE``
    ``minute``, ``hour`` (default), ``day``, ``month`` or ``year``: how finely records are
    partitioned into dated folders.
``DATA_COLLECTION_CAPTURE_HEADERS``
    Comma-separated request headers kept in ``request`` records (never ``authorization``).
``DATA_COLLECTION_SOURCE``
    The records' ``source`` (``/endpoints/<endpoint>/deployments/<deployment>``).
``DATA_COLLECTION_QUEUE_RECORDS``, ``DATA_COLLECTION_QUEUE_BYTES``
    Bounds of the sampled requests waiting to be written; default 10,000 and 64 MiB.

No egress (a deployment's ``egress_public_network_access: disabled``; see ``inference.egress``):

``EGRESS_DISABLED``
    ``true``: delete the replica's default routes before serving. The server must start as
    root with ``NET_ADMIN``, ``SETUID`` and ``SETGID``; it then becomes ``SERVER_USER_ID``.
``SERVER_USER_ID``
    The user the server becomes once the routes are gone (required with ``EGRESS_DISABLED``).
``EGRESS_ALLOWED_NETWORKS``
    Comma-separated IPv4 networks still reached through the removed route's gateway (a
    cluster's pod network, whose routers call the replica from other nodes).
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .cpu_pinning import PINNING_MODES

DEFAULT_PORT = 5001
DEFAULT_REQUEST_TIMEOUT_MS = 5000
DEFAULT_MAX_QUEUE_WAIT_MS = 500
DEFAULT_MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_BATCH_LATENCY_MS = 5
COLLECTIONS = ("model_inputs", "model_outputs", "request", "response")
PARTITIONS = {
    "year": "%Y",
    "month": "%Y/%m",
    "day": "%Y/%m/%d",
    "hour": "%Y/%m/%d/%H",
    "minute": "%Y/%m/%d/%H/%M",
}
DEFAULT_COLLECTION_QUEUE_RECORDS = 10_000
DEFAULT_COLLECTION_QUEUE_BYTES = 64 * 1024 * 1024


class SettingsError(ValueError):
    """A setting has a value the server cannot use."""


@dataclass(frozen=True)
class EgressSettings:
    """How a replica without egress takes its route out away (``EGRESS_*``)."""

    user_id: int
    allowed_networks: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EgressSettings | None:
        if (env.get("EGRESS_DISABLED") or "").strip().lower() != "true":
            return None
        if not (env.get("SERVER_USER_ID") or "").strip():
            raise SettingsError("EGRESS_DISABLED needs SERVER_USER_ID, the user to serve as")
        networks = []
        for raw in _names(env.get("EGRESS_ALLOWED_NETWORKS") or ""):
            try:
                networks.append(str(ipaddress.IPv4Network(raw)))
            except ValueError as exc:
                raise SettingsError(f"EGRESS_ALLOWED_NETWORKS: {exc}") from None
        return cls(_int(env, "SERVER_USER_ID", 0, minimum=1), tuple(networks))


@dataclass(frozen=True)
class CollectionSettings:
    """What a replica records of its scoring requests (``DATA_COLLECTION_*``)."""

    folder: str
    collections: tuple[str, ...]
    sampling_rate: float = 1.0
    rolling_rate: str = "hour"
    capture_headers: frozenset[bytes] = frozenset()
    source: str = ""
    queue_records: int = DEFAULT_COLLECTION_QUEUE_RECORDS
    queue_bytes: int = DEFAULT_COLLECTION_QUEUE_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CollectionSettings | None:
        folder = env.get("DATA_COLLECTION_DIR")
        if not folder:
            return None
        raw = env.get("DATA_COLLECTION_COLLECTIONS", "")
        collections = _names(raw)
        if not collections or set(collections) - set(COLLECTIONS):
            raise SettingsError(
                f"DATA_COLLECTION_COLLECTIONS must name some of {', '.join(COLLECTIONS)}, "
                f"got {raw!r}"
            )
        rolling_rate = _choice(env, "DATA_COLLECTION_ROLLING_RATE", PARTITIONS, "hour")
        sampling_rate = _float(env, "DATA_COLLECTION_SAMPLING_RATE", 1.0)
        if sampling_rate > 1.0:
            raise SettingsError(
                f"DATA_COLLECTION_SAMPLING_RATE must be at most 1.0, got {sampling_rate}"
            )
        headers = _names(env.get("DATA_COLLECTION_CAPTURE_HEADERS", "").lower())
        return cls(
            folder=folder,
            collections=tuple(name for name in COLLECTIONS if name in collections),
            sampling_rate=sampling_rate,
            rolling_rate=rolling_rate,
            capture_headers=frozenset(h.encode("latin-1") for h in headers) - {b"authorization"},
            source=env.get("DATA_COLLECTION_SOURCE") or "",
            queue_records=_int(
                env, "DATA_COLLECTION_QUEUE_RECORDS", DEFAULT_COLLECTION_QUEUE_RECORDS, minimum=1
            ),
            queue_bytes=_int(
                env, "DATA_COLLECTION_QUEUE_BYTES", DEFAULT_COLLECTION_QUEUE_BYTES, minimum=1
            ),
        )


@dataclass(frozen=True)
class BatchSettings:
    """How a worker merges scoring requests (``MAX_BATCH_SIZE``, ``MAX_BATCH_LATENCY_MS``)."""

    max_size: int
    max_latency_ms: int = DEFAULT_MAX_BATCH_LATENCY_MS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BatchSettings | None:
        max_size = _int(env, "MAX_BATCH_SIZE", 1, minimum=1)
        if max_size == 1:
            return None
        latency = _int(env, "MAX_BATCH_LATENCY_MS", DEFAULT_MAX_BATCH_LATENCY_MS)
        return cls(max_size=max_size, max_latency_ms=latency)


@dataclass(frozen=True)
class Settings:
    app_root: str
    entry_script: str | None
    model_dir: str | None
    source_dir: str | None = None
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    workers: int = 1
    cpu_pinning: str = "auto"
    run_threads: int = 1
    max_concurrent_requests: int = 0
    max_queue_wait_ms: int = DEFAULT_MAX_QUEUE_WAIT_MS
    request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS
    max_request_body_bytes: int = DEFAULT_MAX_REQUEST_BODY_BYTES
    keep_alive_timeout_s: float = 65.0
    graceful_shutdown_timeout_s: float = 30.0
    worker_timeout_s: float = 300.0
    log_level: str = "INFO"
    service_name: str = "ML service"
    service_version: str = "1.0"
    service_path_prefix: str = ""
    data_collection: CollectionSettings | None = None
    egress: EgressSettings | None = None
    batching: BatchSettings | None = None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        host: str | None = None,
        port: int | None = None,
        workers: int | None = None,
    ) -> Settings:
        """Settings from ``env``; the keyword arguments (command-line flags) win."""
        timeout_ms = env.get("REQUEST_TIMEOUT_MS") or env.get("SCORING_TIMEOUT_MS")
        return cls(
            app_root=os.path.abspath(env.get("AML_APP_ROOT") or os.getcwd()),
            entry_script=env.get("AZUREML_ENTRY_SCRIPT") or None,
            model_dir=env.get("AZUREML_MODEL_DIR") or None,
            source_dir=env.get("AZUREML_SOURCE_DIRECTORY") or None,
            host=host or env.get("SERVER_HOST") or "0.0.0.0",
            port=port or _int(env, "SERVER_PORT", DEFAULT_PORT, minimum=1),
            workers=workers or _int(env, "WORKER_COUNT", usable_cpu_count(), minimum=1),
            cpu_pinning=_choice(env, "WORKER_CPU_PINNING", PINNING_MODES, "auto"),
            run_threads=_int(env, "RUN_THREADS", 1, minimum=1),
            max_concurrent_requests=_int(env, "MAX_CONCURRENT_REQUESTS_PER_INSTANCE", 0),
            max_queue_wait_ms=_int(env, "MAX_QUEUE_WAIT_MS", DEFAULT_MAX_QUEUE_WAIT_MS),
            request_timeout_ms=_parse_int(
                "REQUEST_TIMEOUT_MS", timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS, 0
            ),
            max_request_body_bytes=_int(
                env, "MAX_REQUEST_BODY_BYTES", DEFAULT_MAX_REQUEST_BODY_BYTES, minimum=1
            ),
            keep_alive_timeout_s=_float(env, "KEEP_ALIVE_TIMEOUT_S", 65.0),
            graceful_shutdown_timeout_s=_float(env, "GRACEFUL_SHUTDOWN_TIMEOUT_S", 30.0),
            worker_timeout_s=_float(env, "WORKER_TIMEOUT", 300.0),
            log_level=(env.get("AZUREML_LOG_LEVEL") or "INFO").upper(),
            service_name=env.get("SERVICE_NAME") or "ML service",
            service_version=env.get("SERVICE_VERSION") or "1.0",
            service_path_prefix=env.get("SERVICE_PATH_PREFIX") or "",
            data_collection=CollectionSettings.from_env(env),
            egress=EgressSettings.from_env(env),
            batching=BatchSettings.from_env(env),
        )

    def entry_script_path(self) -> str | None:
        if not self.entry_script:
            return None
        return os.path.join(self.app_root, self.entry_script)


def usable_cpu_count() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def cgroup_cpu_quota(
    cpu_max: str = "/sys/fs/cgroup/cpu.max",
    cfs_quota: str = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    cfs_period: str = "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
) -> float | None:
    """CPUs granted by the cgroup quota (v2 ``cpu.max``, else v1 CFS), or None if unlimited."""
    try:
        with open(cpu_max) as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open(cfs_quota) as f:
            quota_us = int(f.read())
        with open(cfs_period) as f:
            period_us = int(f.read())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    return _parse_int(name, env.get(name), default, minimum)


def _parse_int(name: str, raw: str | None, default: int, minimum: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: Collection[str], default: str) -> str:
    """One of ``choices``, case-insensitive; ``default`` when unset or empty."""
    value = (env.get(name) or default).lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {value}")
    return value


def _names(raw: str) -> list[str]:
    return [name.strip() for name in raw.split(",") if name.strip()]
