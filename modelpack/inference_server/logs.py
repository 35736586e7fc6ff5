"""JSON log lines on stdout: one per request (logger ``inference.access``) and the server's
other records.

Each line is an object with ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``pid``,
``message``, the record's extra ``fields`` (``request_id``, ``method``, ``path``, ``status``,
``duration_ms``... for a request) and ``exc_info`` (the traceback) when there is one.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from json.encoder import encode_basestring_ascii as _str  # what json.dumps uses
from typing import Any

access_logger = logging.getLogger("inference.access")


def timestamp(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 UTC with milliseconds."""
    global _last_second
    whole = int(seconds)
    second, text = _last_second
    if second != whole:  # once a second: the rest of the time the text is reused
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _last_second = (whole, text)  # one assignment: other threads see both or neither
    return f"{text}.{int((seconds - whole) * 1000):03d}Z"


_last_second: tuple[int, str] = (-1, "")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class BufferedStdoutHandler(logging.Handler):
    """Writes formatted records to stdout (fd 1) through a private buffer.

    One write system call per log line would cost more than the rest of a request's
    bookkeeping, so lines are written every ``FLUSH_INTERVAL_S``, when the buffer fills, at
    once for warnings and errors, and at exit. This does not depend on how ``sys.stdout``
    is buffered (``PYTHONUNBUFFERED`` is common in model images).
    """

    FLUSH_INTERVAL_S = 0.1

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self._out = open(1, "wb", buffering=1 << 16, closefd=False)
        threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()
        atexit.register(self.flush)

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held
        try:
            self._out.write(self.format(record).encode() + b"\n")
            if record.levelno >= logging.WARNING:
                self._out.flush()
        except Exception:
            self.handleError(record)

    def write_line(self, line: bytes) -> None:
        # No handler lock: the buffered file's own lock keeps each line whole.
        self._out.write(line)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            try:
                self._out.flush()
            except (OSError, ValueError):  # stdout closed
                pass

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(self.FLUSH_INTERVAL_S)
            self.flush()


def configure(level: str) -> None:
    """Send the server's loggers (``inference.*``, ``uvicorn.*``) to stdout as JSON.

    The root logger is left alone, as ``azmlinfsrv`` leaves it: a score.py's own
    ``logging.info(...)`` goes nowhere unless the script configures logging itself.
    """
    global _handler, _PID
    if _handler is None:
        _handler = BufferedStdoutHandler()
        _PID = os.getpid()
    for name in ("inference", "uvicorn"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(_handler)
        logger.setLevel(level)
        logger.propagate = False
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


_handler: BufferedStdoutHandler | None = None
_PID = os.getpid()


def log_request(
    request_id: str,
    method: str,
    path: str,
    status: int,
    seconds: float,
    client_request_id: str | None = None,
) -> None:
    """The line of one answered request, as ``inference.access`` would log it at INFO.

    Written straight to the handler: a LogRecord per request costs more than the line. The
    line is what ``json.dumps`` makes of the entry, put together by hand: the generic encoder
    costs as much as the rest of the request's bookkeeping.
    """
    if _handler is None or not access_logger.isEnabledFor(logging.INFO):
        return
    client = (
        "" if client_request_id is None else f', "client_request_id": {_str(client_request_id)}'
    )
    line = (
        f'{{"time": "{timestamp(time.time())}", "level": "INFO", "logger": "inference.access", '
        f'"pid": {_PID}, "message": "request", "request_id": {_str(request_id)}, '
        f'"method": {_str(method)}, "path": {_str(path)}, "status": {status}, '
        f'"duration_ms": {milliseconds(seconds)}{client}}}\n'
    )
    _handler.write_line(line.encode())


def milliseconds(seconds: float) -> str:
    """``repr(round(seconds * 1000, 3))``, at half the cost: a float's ``round`` to some
    digits and its ``repr`` each convert it to decimal; this converts it once."""
    text = f"{seconds * 1000:.3f}".rstrip("0")
    return text + "0" if text[-1] == "." else text
