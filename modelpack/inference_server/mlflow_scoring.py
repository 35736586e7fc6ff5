"""An MLflow model served without a score.py, as Azure ML serves MLflow models.

mlflow is imported only here, and only when such a model is served: it comes with the
model's own environment, not with the server.

Accepted bodies (POST, JSON unless noted):

* Azure ML's ``{"input_data": {"columns": [...], "index": [...], "data": [...]}}``, or
  ``{"input_data": [[...], ...]}`` (rows; columns named after the model's signature when it
  has one), or ``{"input_data": {"name": [...], ...}}`` (named tensors); answered with the
  bare predictions;
* MLflow's ``dataframe_split``, ``dataframe_records``, ``instances`` and ``inputs``, answered
  with ``{"predictions": ...}`` like ``mlflow models serve``; also a ``text/csv`` body.

An optional ``"params"`` member is passed to ``predict``.

With batching on, requests whose rows fit one frame are answered by one ``predict`` (see
``inference.mlflow_batch``); when it raises, or does not answer a prediction per row, each
request is scored alone, so a bad request fails alone.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .mlflow_batch import Rows, merged_payload, rows_of, split_predictions
from .scoring import JSON_TYPE, BatchResult, ClientError, Reply, RunFailed, ScoreRequest

logger = logging.getLogger("inference.mlflow")

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
ALL_VERSIONS = ["2.0", "3.0", "3.1"]
UNDESCRIBED = {"type": "object", "example": {}}


def find_mlflow_model(model_dir: str | None) -> str | None:
    """The folder holding the MLmodel file: the model dir, ``MLFLOW_MODEL_FOLDER`` under it,
    or its only sub-folder."""
    if not model_dir or not os.path.isdir(model_dir):
        return None
    candidates = [model_dir]
    if folder := os.environ.get("MLFLOW_MODEL_FOLDER"):
        candidates.insert(0, os.path.join(model_dir, folder))
    subfolders = [e.path for e in os.scandir(model_dir) if e.is_dir()]
    if len(subfolders) == 1:
        candidates.append(subfolders[0])
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, "MLmodel")):
            return folder
    return None


class MlflowModel:
    def __init__(self, path: str) -> None:
        self.path = path
        self._model: Any = None
        self._input_schema: Any = None

    def init(self) -> None:
        try:
            import mlflow.pyfunc
        except ImportError as exc:
            raise RuntimeError(
                f"{self.path} holds an MLflow model, but mlflow cannot be imported by this "
                f"Python; install mlflow (or mlflow-skinny) in the model's environment: {exc}"
            ) from exc
        logger.info("loading MLflow model from %s", self.path)
        self._model = mlflow.pyfunc.load_model(self.path)
        self._input_schema = self._model.metadata.get_input_schema()
        logger.info("MLflow model loaded")

    def schemas(self) -> tuple[Any, Any, list[str]]:
        return UNDESCRIBED, UNDESCRIBED, ALL_VERSIONS

    def score(self, request: ScoreRequest) -> Reply:
        if request.method != "POST":
            raise ClientError(405, "The method is not allowed for the requested URL.")
        if _content_type(request) == b"text/csv":
            from mlflow.pyfunc.scoring_server import parse_csv_input

            with _input_errors():
                text = io.StringIO(request.body.decode("utf-8"))
                data = parse_csv_input(text, self._input_schema)
            return self._reply(self._predict(data, None), wrap=True)
        return self._score_payload(_json_payload(request))

    def batches(self) -> bool:
        return True

    def score_batch(self, requests: list[ScoreRequest]) -> BatchResult:
        outcomes: dict[int, Reply | Exception] = {}
        calls: list[int] = []
        groups: dict[tuple[Any, ...], list[tuple[int, Rows, dict[str, Any]]]] = {}
        for index, request in enumerate(requests):
            if request.method != "POST" or _content_type(request) == b"text/csv":
                outcomes[index] = _outcome(self.score, request)
                calls.append(1)
                continue
            try:
                payload = _json_payload(request)
            except ClientError as exc:
                outcomes[index] = exc
                continue
            rows = rows_of(payload)
            if rows is None:
                outcomes[index] = _outcome(self._score_payload, payload)
                calls.append(1)
            else:
                groups.setdefault(rows.key, []).append((index, rows, payload))
        for members in groups.values():
            replies = None
            if len(members) > 1:
                replies = self._score_merged([rows for _, rows, _ in members])
            if replies is not None:
                calls.append(len(members))
                for (index, _, _), reply in zip(members, replies, strict=True):
                    outcomes[index] = reply
                continue
            for index, _, payload in members:
                outcomes[index] = _outcome(self._score_payload, payload)
                calls.append(1)
        return BatchResult([outcomes[index] for index in range(len(requests))], calls)

    def _score_merged(self, members: list[Rows]) -> list[Reply] | None:
        """One reply per member from one predict of their merged rows; None when that
        predict (or reading the merged input) raises, or does not answer row by row."""
        payload = merged_payload(members)
        try:
            data, params, wrap = self._parse_payload(payload)
            predictions = self._predict(data, params)
            parts = split_predictions(predictions, [len(rows.rows) for rows in members])
            if parts is None:
                return None
            return [self._reply(part, wrap) for part in parts]
        except Exception as exc:
            logger.info(
                "a merged predict of %d requests failed (%s: %s); scoring them one by one",
                len(members),
                type(exc).__name__,
                exc,
            )
            return None

    def _score_payload(self, payload: dict[str, Any]) -> Reply:
        data, params, wrap = self._parse_payload(payload)
        return self._reply(self._predict(data, params), wrap)

    def _predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        try:
            if params:
                return self._model.predict(data, params=params)
            return self._model.predict(data)
        except Exception as exc:
            raise RunFailed(f"{type(exc).__name__}: {exc}") from exc

    def _reply(self, predictions: Any, wrap: bool) -> Reply:
        try:
            body = json.dumps(_jsonable(predictions))
        except Exception as exc:
            raise RunFailed(f"{type(exc).__name__}: {exc}") from exc
        if wrap:
            body = '{"predictions": ' + body + "}"
        return Reply(200, body.encode(), [(b"content-type", JSON_TYPE)])

    def _parse_payload(self, payload: dict[str, Any]) -> tuple[Any, dict[str, Any] | None, bool]:
        """(model input, params, whether to answer in MLflow's ``{"predictions"}`` form)."""
        from mlflow.pyfunc.scoring_server import infer_and_parse_data

        with _input_errors():
            params = payload.get("params")
            if "input_data" in payload:
                mlflow_payload = self._from_azure(payload["input_data"])
                return infer_and_parse_data(mlflow_payload, self._input_schema), params, False
            formats = {key: payload[key] for key in MLFLOW_FORMATS if key in payload}
            if len(formats) != 1:
                raise ClientError(
                    400,
                    'Expected exactly one of "input_data", '
                    f"{', '.join(MLFLOW_FORMATS)}; got {sorted(payload)}",
                )
            return infer_and_parse_data(formats, self._input_schema), params, True

    def _from_azure(self, input_data: Any) -> dict[str, Any]:
        """Azure ML's ``input_data`` in one of MLflow's own formats."""
        schema = self._input_schema
        tensors = schema is not None and schema.is_tensor_spec()
        if isinstance(input_data, dict) and "data" in input_data:
            return {"dataframe_split": input_data}
        if isinstance(input_data, list) and not tensors:
            split: dict[str, Any] = {"data": input_data}
            if schema is not None and schema.has_input_names():
                names = schema.input_names()
                if (
                    input_data
                    and isinstance(input_data[0], list)
                    and len(input_data[0]) == len(names)
                ):
                    split["columns"] = names
            return {"dataframe_split": split}
        return {"inputs": input_data}


def _content_type(request: ScoreRequest) -> bytes:
    return (request.header(b"content-type") or b"").split(b";")[0].strip()


def _json_payload(request: ScoreRequest) -> dict[str, Any]:
    try:
        payload = json.loads(request.body)
    except ValueError as exc:
        raise ClientError(400, f"The body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ClientError(
            400, f'Expected a JSON object with "input_data" or one of {", ".join(MLFLOW_FORMATS)}'
        )
    return payload


@contextmanager
def _input_errors() -> Iterator[None]:
    """Errors reading the input are the client's (400)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise ClientError(400, exc.message) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ClientError(400, f"The input could not be read: {exc}") from None


def _outcome(score: Any, argument: Any) -> Reply | Exception:
    """``score(argument)``'s reply, or what it raised."""
    try:
        return score(argument)
    except Exception as exc:
        return exc


def _jsonable(value: Any) -> Any:
    """Predictions (numpy, pandas or plain) as JSON-serialisable values."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # DataFrame
        return [_jsonable(row) for row in value.to_dict(orient="records")]
    if hasattr(value, "tolist"):  # numpy array or scalar, pandas Series
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
