"""``python -m modelpack.inference_server``: the command line, with ``azmlinfsrv``'s flags."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from . import __version__, egress, logs, supervisor
from .settings import Settings, SettingsError

logger = logging.getLogger("inference.cli")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m modelpack.inference_server",
        description="Serve one model over HTTP with Azure ML's scoring contract. "
        "Settings not given as flags are read from environment variables "
        "(see the inference.settings module).",
    )
    parser.add_argument("--entry_script", help="score.py to serve (AZUREML_ENTRY_SCRIPT)")
    parser.add_argument("--model_dir", help="model directory (AZUREML_MODEL_DIR)")
    parser.add_argument("--host", help="address to listen on (SERVER_HOST, default 0.0.0.0)")
    parser.add_argument(
        "--port", type=_positive, help="port to listen on (SERVER_PORT, default 5001)"
    )
    parser.add_argument("--worker_count", type=_positive, help="worker processes (WORKER_COUNT)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # score.py reads these from the environment, so flags are turned into variables.
    if args.entry_script:
        os.environ["AZUREML_ENTRY_SCRIPT"] = os.path.realpath(args.entry_script)
    if args.model_dir:
        os.environ["AZUREML_MODEL_DIR"] = os.path.abspath(args.model_dir)
    try:
        settings = Settings.from_env(
            os.environ, host=args.host, port=args.port, workers=args.worker_count
        )
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    if settings.egress is not None:
        try:
            egress.disable_egress(settings.egress)
        except egress.EgressError as exc:
            logger.critical("egress is disabled, but %s", exc)
            return 1
    logger.info(
        "inference server %s starting",
        __version__,
        extra={"fields": {"settings": dataclasses.asdict(settings)}},
    )
    try:
        return supervisor.run(settings)
    except OSError as exc:  # e.g. the port is taken
        logger.critical("cannot serve: %s", exc)
        return 1


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number
