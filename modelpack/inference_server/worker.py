"""One worker process: picks the model to serve and runs the ASGI app on uvicorn."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys

import uvicorn

from . import logs
from .app import InferenceApp
from .cpu_pinning import pin_worker
from .entry_script import EntryScript, ScriptError
from .mlflow_scoring import MlflowModel, find_mlflow_model
from .scoring import Scorer
from .settings import Settings
from .shared import SharedState
from .transport import HttpProtocol

logger = logging.getLogger("inference.worker")

# Exit code of a worker whose model could not be loaded (gunicorn's and azmlinfsrv's).
BOOT_FAILED = 3


def choose_scorer(settings: Settings) -> Scorer:
    script = settings.entry_script_path()
    if script:
        return EntryScript(script)
    mlflow_model = find_mlflow_model(settings.model_dir)
    if mlflow_model:
        return MlflowModel(mlflow_model)
    main_py = os.path.join(settings.app_root, "main.py")
    if os.path.isfile(main_py):
        return EntryScript(main_py)
    raise ScriptError(
        "nothing to serve: set AZUREML_ENTRY_SCRIPT (or --entry_script), or point "
        "AZUREML_MODEL_DIR (or --model_dir) at an MLflow model"
    )


def extend_sys_path(settings: Settings) -> None:
    """Let the user's code import its neighbours, as azmlinfsrv does (plus the script's own
    folder, which Python itself would add when running the script)."""
    folders = [settings.app_root]
    if settings.source_dir:
        folders.append(os.path.join(settings.app_root, settings.source_dir))
    script = settings.entry_script_path()
    if script:
        folders.append(os.path.dirname(os.path.abspath(script)))
    for folder in folders:
        if folder not in sys.path:
            sys.path.append(folder)


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket. With ``reuse_port`` every worker binds its own socket to the
    port and the kernel spreads new connections over them; with one socket shared by all,
    the first worker to wake accepts whole bursts of connections (all of a load balancer's
    pool, say) and the others stay idle."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    # Listening at once lets connections queue while the server starts.
    sock.listen(2048)
    return sock


def serve(settings: Settings, sock: socket.socket, shared: SharedState, worker: int) -> int:
    """Serve on ``sock`` until told to stop; returns the process's exit code."""
    try:  # before any thread starts (logs.configure starts one), so that all inherit it
        cpu, pin_error = pin_worker(settings.cpu_pinning, worker, settings.workers), None
    except OSError as exc:
        cpu, pin_error = None, exc
    logs.configure(settings.log_level)
    if pin_error is not None:
        logger.warning("worker %d left unpinned: %s", worker, pin_error)
    elif cpu is not None:
        logger.info("worker %d runs on CPU %d", worker, cpu)
    extend_sys_path(settings)
    try:
        scorer = choose_scorer(settings)
    except ScriptError as exc:
        logger.critical("%s", exc)
        return BOOT_FAILED
    app = InferenceApp(settings, scorer, shared, worker)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=HttpProtocol,  # uvicorn's httptools protocol, one send per response
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,  # the client address is not used; X-Forwarded-* stay visible
        timeout_keep_alive=int(settings.keep_alive_timeout_s),
        timeout_graceful_shutdown=int(settings.graceful_shutdown_timeout_s),
    )
    server = uvicorn.Server(config)

    def stop() -> None:
        server.should_exit = True

    app.on_init_failure = stop
    # uvicorn re-raises the stop signal once it has shut down gracefully; with this handler
    # in place that ends the process with code 0 instead of death by signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop())
    server.run(sockets=[sock])
    return BOOT_FAILED if app.init_error is not None else 0


def main(
    settings: Settings, shared: SharedState, worker: int, sock: socket.socket | None = None
) -> None:
    """Entry point of a spawned worker process: serves on `sock` (the supervisor's listening
    socket) or else on a socket of its own bound to the port."""
    if sock is None:
        sock = bind(settings.host, settings.port, reuse_port=True)
    sys.exit(serve(settings, sock, shared, worker))
