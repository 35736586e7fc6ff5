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
"""

from __future__ import annotations

import io
import json
import logging
import os
from typing import Any

from .scoring import JSON_TYPE, ClientError, Reply, RunFailed, ScoreRequest

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
        data, params, wrap = self._parse(request)
        try:
            if params:
                predictions = self._model.predict(data, params=params)
            else:
                predictions = self._model.predict(data)
            body = json.dumps(_jsonable(predictions))
        except Exception as exc:
            raise RunFailed(f"{type(exc).__name__}: {exc}") from exc
        if wrap:
            body = '{"predictions": ' + body + "}"
        return Reply(200, body.encode(), [(b"content-type", JSON_TYPE)])

    def _parse(self, request: ScoreRequest) -> tuple[Any, dict[str, Any] | None, bool]:
        """(model input, params, whether to answer in MLflow's ``{"predictions"}`` form)."""
        from mlflow.exceptions import MlflowException
        from mlflow.pyfunc.scoring_server import infer_and_parse_data, parse_csv_input

        content_type = (request.header(b"content-type") or b"").split(b";")[0].strip()
        try:
            if content_type == b"text/csv":
                text = io.StringIO(request.body.decode("utf-8"))
                return parse_csv_input(text, self._input_schema), None, True
            try:
                payload = json.loads(request.body)
            except ValueError as exc:
                raise ClientError(400, f"The body is not valid JSON: {exc}") from None
            if not isinstance(payload, dict):
                raise ClientError(
                    400,
                    'Expected a JSON object with "input_data" or one of '
                    f"{', '.join(MLFLOW_FORMATS)}",
                )
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
        except MlflowException as exc:
            raise ClientError(400, exc.message) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise ClientError(400, f"The input could not be read: {exc}") from None

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
