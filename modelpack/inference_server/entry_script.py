"""A user's score.py: imported once, ``init()`` called once, ``run()`` called per request.

What ``run()`` is given follows ``azmlinfsrv``:

* ``@rawhttp`` ``run(request)``: an ``AMLRequest`` (any of GET, POST, OPTIONS);
* ``@input_schema`` decorated ``run(a, b, ...)``: the members of the JSON object body (GET:
  of the query string), by parameter name; a body not declared JSON is answered 415;
* otherwise ``run(raw_data)``: the body as a str (GET: the query string as a JSON object).

A ``request_headers`` parameter, when ``run()`` has one, receives the request's headers.
``run()`` returns either a response object (``AMLResponse``, or anything with ``status_code``,
``headers`` and ``get_data()``), sent as it is, or a value sent as JSON.

With batching on (``MAX_BATCH_SIZE``), a script may define ``run_batch(list_of_raw_data)``
beside a ``run(raw_data)`` that takes the body as a str: it gets the bodies of several POST
requests and returns one output per body, in order, each answered as ``run()``'s would be.
An output that is an exception fails its own request (500). When ``run_batch`` raises or
returns another number of outputs, each request is given to ``run()`` alone. It is not given
the request headers.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from enum import Enum
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

from . import compat
from .compat.aml_request import AMLRequest
from .scoring import (
    HTML_TYPE,
    JSON_TYPE,
    BatchResult,
    ClientError,
    Reply,
    RunFailed,
    ScoreRequest,
)

logger = logging.getLogger("inference.entry_script")

UNDESCRIBED = {"type": "object", "example": {}}
# Headers the server sets itself; a response object's own values are dropped.
SERVER_HEADERS = {b"content-length", b"transfer-encoding", b"connection"}


class ScriptError(Exception):
    """score.py cannot be served: it fails to import, or lacks a usable init() or run()."""


class InputMode(Enum):
    RAW = "raw request (@rawhttp)"
    SCHEMA = "JSON members as arguments (@input_schema)"
    STRING = "body as a str"


class EntryScript:
    def __init__(self, path: str) -> None:
        self.path = path
        self._init: Callable[[], Any] | None = None
        self._run: Callable[..., Any] = _not_initialised
        self._mode = InputMode.STRING
        self._data_parameter = ""
        self._parameters: list[inspect.Parameter] = []
        self._pass_headers = False
        self._body_positional = False  # run(raw_data) takes the POST body as a str, by position
        self._run_batch: Callable[[list[str]], Any] | None = None

    def init(self) -> None:
        module = self._import()
        self._analyse(module)
        logger.info("calling init() of %s", self.path)
        assert self._init is not None
        self._init()
        logger.info("init() finished")

    def _import(self) -> ModuleType:
        compat.install()
        if not os.path.isfile(self.path):
            raise ScriptError(f"entry script {self.path} does not exist")
        spec = importlib.util.spec_from_file_location("entry_module", self.path)
        if spec is None or spec.loader is None:
            raise ScriptError(f"entry script {self.path} cannot be imported")
        module = importlib.util.module_from_spec(spec)
        # Registered so that pickle and dataclasses can find the script's own classes.
        sys.modules["entry_module"] = module
        spec.loader.exec_module(module)
        return module

    def _analyse(self, module: ModuleType) -> None:
        for name in ("init", "run"):
            if not callable(getattr(module, name, None)):
                raise ScriptError(f"entry script {self.path} does not define {name}()")
        self._init = module.init
        # Some Azure SDKs generate a driver script that forwards to the user's module.
        driver = getattr(module, "driver_module", None)
        if isinstance(driver, ModuleType) and callable(getattr(driver, "run", None)):
            self._run = driver.run
        else:
            self._run = module.run

        parameters = list(inspect.signature(self._run).parameters.values())
        allowed = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        if any(p.kind not in allowed for p in parameters):
            raise ScriptError("run() cannot take positional-only arguments, *args or **kwargs")
        self._pass_headers = any(p.name == "request_headers" for p in parameters)
        self._parameters = [p for p in parameters if p.name != "request_headers"]
        if not self._parameters:
            raise ScriptError("run() needs a parameter for the input data")
        self._data_parameter = self._parameters[0].name

        decorated = _schema_decorated(self._run)
        if compat.raw_http_requested():
            if decorated:
                raise ScriptError("run() cannot be decorated with both @rawhttp and @input_schema")
            self._mode = InputMode.RAW
        elif decorated:
            self._mode = InputMode.SCHEMA
        else:
            self._mode = InputMode.STRING
        logger.info("run() receives the %s", self._mode.value)
        self._body_positional = (
            self._mode is InputMode.STRING
            and not self._pass_headers
            and self._parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        run_batch = getattr(module, "run_batch", None)
        if callable(run_batch):
            if self._mode is InputMode.STRING:
                self._run_batch = run_batch
            else:
                logger.warning(
                    "run_batch() is not used: it is only for a run(raw_data) that takes the "
                    "body as a str, and run() receives the %s",
                    self._mode.value,
                )

    def schemas(self) -> tuple[Any, Any, list[str]]:
        try:
            from inference_schema import schema_util
        except ImportError:
            return UNDESCRIBED, UNDESCRIBED, ["2.0", "3.0", "3.1"]
        versions = schema_util.get_supported_versions(self._run)
        if self._mode is InputMode.SCHEMA:
            run = self._run
            return schema_util.get_input_schema(run), schema_util.get_output_schema(run), versions
        return UNDESCRIBED, UNDESCRIBED, versions

    def score(self, request: ScoreRequest) -> Reply:
        if self._body_positional and request.method == "POST":
            return self._call(_body_text(request))  # the usual request, in a straight line
        if request.method == "OPTIONS" and self._mode is not InputMode.RAW:
            return Reply(200, b"", [(b"content-type", HTML_TYPE), _run_failed(False)])
        arguments = self._arguments(request)
        if self._pass_headers:
            arguments["request_headers"] = {
                k.decode("latin-1").title(): v.decode("latin-1") for k, v in request.headers
            }
        return self._call(**arguments)

    def _call(self, *args: Any, **kwargs: Any) -> Reply:
        """``run()``'s answer as a reply, timed in ``x-ms-run-fn-exec-ms``."""
        started = time.perf_counter()
        try:
            reply = _reply_from_output(self._run(*args, **kwargs))
        except Exception as exc:
            raise RunFailed(f"{type(exc).__name__}: {exc}") from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        reply.headers.append((b"x-ms-run-fn-exec-ms", f"{elapsed_ms:.3f}".encode()))
        return reply

    def batches(self) -> bool:
        return self._run_batch is not None

    def score_batch(self, requests: list[ScoreRequest]) -> BatchResult:
        outcomes: dict[int, Reply | Exception] = {}
        calls: list[int] = []
        merged: list[int] = []
        bodies: list[str] = []
        for index, request in enumerate(requests):
            body = _batch_body(request) if self._run_batch is not None else None
            if body is None:
                outcomes[index] = self._outcome(request)
                calls.append(1)
            else:
                bodies.append(body)
                merged.append(index)
        replies = self._batch_replies(bodies) if bodies else None
        if replies is not None:
            outcomes.update(zip(merged, replies, strict=True))
            calls.append(len(merged))
        else:
            for index in merged:
                outcomes[index] = self._outcome(requests[index])
                calls.append(1)
        return BatchResult([outcomes[index] for index in range(len(requests))], calls)

    def _batch_replies(self, bodies: list[str]) -> list[Reply | Exception] | None:
        """``run_batch(bodies)`` as one reply (or failure) per body; None when it raised or
        answered another number of outputs."""
        assert self._run_batch is not None
        started = time.perf_counter()
        try:
            outputs = list(self._run_batch(bodies))
        except Exception as exc:
            logger.info("run_batch() of %d raised (%s); calling run() for each", len(bodies), exc)
            return None
        if len(outputs) != len(bodies):
            logger.error(
                "run_batch() returned %d outputs for %d inputs; calling run() for each",
                len(outputs),
                len(bodies),
            )
            return None
        elapsed = f"{(time.perf_counter() - started) * 1000:.3f}".encode()
        replies: list[Reply | Exception] = []
        for output in outputs:
            try:
                if isinstance(output, Exception):
                    raise output
                reply = _reply_from_output(output)
            except Exception as exc:
                replies.append(RunFailed(f"{type(exc).__name__}: {exc}"))
                continue
            reply.headers.append((b"x-ms-run-fn-exec-ms", elapsed))
            replies.append(reply)
        return replies

    def _outcome(self, request: ScoreRequest) -> Reply | Exception:
        try:
            return self.score(request)
        except Exception as exc:
            return exc

    def _arguments(self, request: ScoreRequest) -> dict[str, Any]:
        if self._mode is InputMode.RAW:
            return {self._data_parameter: to_aml_request(request)}
        if self._mode is InputMode.SCHEMA:
            if request.method == "GET":
                return self._schema_arguments(_query_values(request.query_string))
            return self._schema_arguments(_json_object_body(request))
        if request.method == "GET":
            return {self._data_parameter: json.dumps(_query_values(request.query_string))}
        return {self._data_parameter: _body_text(request)}

    def _schema_arguments(self, values: dict[str, Any]) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        for parameter in self._parameters:
            value = values.get(parameter.name, parameter.default)
            if value is inspect.Parameter.empty:
                raise ClientError(
                    400, f"A value is not provided for the {parameter.name!r} parameter."
                )
            arguments[parameter.name] = value
        return arguments


def to_aml_request(request: ScoreRequest) -> AMLRequest:
    host = request.header(b"host")
    if host is None and request.server:
        host = f"{request.server[0]}:{request.server[1]}".encode()
    return AMLRequest(
        method=request.method,
        path=request.path,
        query_string=request.query_string,
        headers=[(k.decode("latin-1").title(), v.decode("latin-1")) for k, v in request.headers],
        body=request.body,
        scheme=request.scheme,
        host=(host or b"localhost").decode("latin-1"),
        remote_addr=request.client[0] if request.client else None,
    )


def _reply_from_output(output: Any) -> Reply:
    if hasattr(output, "status_code") and hasattr(output, "get_data"):
        status = int(output.status_code)
        headers = [
            (str(name).lower().encode("latin-1"), str(value).encode("latin-1"))
            for name, value in output.headers.items()
        ]
        headers = [h for h in headers if h[0] not in SERVER_HEADERS]
        if status >= 500:
            headers = [h for h in headers if h[0] != b"x-ms-run-function-failed"]
            headers.append(_run_failed(True))
        return Reply(status, output.get_data(), headers)
    return Reply(
        200, json.dumps(output).encode(), [(b"content-type", JSON_TYPE), _run_failed(False)]
    )


def _body_text(request: ScoreRequest) -> str:
    try:
        return request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientError(400, f"Input cannot be decoded as UTF-8: {exc}") from None


def _batch_body(request: ScoreRequest) -> str | None:
    """What ``run_batch`` gets of ``request``: a POST body as a str; None for any other
    request (``run()`` answers those, and the 400 of a body that is not UTF-8)."""
    if request.method != "POST":
        return None
    try:
        return request.body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _run_failed(failed: bool) -> tuple[bytes, bytes]:
    return b"x-ms-run-function-failed", b"True" if failed else b"False"


def _json_object_body(request: ScoreRequest) -> dict[str, Any]:
    content_type = (request.header(b"content-type") or b"").split(b";")[0].strip().lower()
    if not (content_type == b"application/json" or content_type.endswith(b"+json")):
        raise ClientError(415, "Expects Content-Type to be application/json")
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        if not request.body:
            raise ClientError(400, "POST body is empty. Expecting a JSON dictionary.") from None
        raise ClientError(400, f"POST body could not be decoded as JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ClientError(400, "POST body should be a JSON dictionary.")
    return body


def _query_values(query_string: bytes) -> dict[str, Any]:
    """Query parameters as JSON values where they parse; a repeated name gives a list."""
    values: dict[str, list[Any]] = {}
    for name, raw in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        values.setdefault(name, []).append(value)
    return {name: v[0] if len(v) == 1 else v for name, v in values.items()}


def _schema_decorated(run: Callable[..., Any]) -> bool:
    try:
        from inference_schema.schema_util import is_schema_decorated
    except ImportError:  # the model's environment lacks inference-schema: nothing is decorated
        return False
    return bool(is_schema_decorated(run))


def _not_initialised(**_: Any) -> Any:
    raise RuntimeError("score.py has not been loaded")
