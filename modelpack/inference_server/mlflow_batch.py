"""Which MLflow scoring payloads one ``predict`` call can answer together, the payload that
merges them, and how its predictions are split back.

Payloads merge only when each, parsed alone, would give a frame of the same columns and
types: the same format, columns, params and index use, and rows (or records) whose values
have, column by column, the same JSON types (so pandas infers the same dtypes for the
merged frame as for each part). Merged are Azure ML's ``input_data`` rows or split, and
MLflow's ``dataframe_split`` and ``dataframe_records``; tensors (``instances``, ``inputs``,
named ``input_data``) and CSV bodies are scored alone.

Pure data handling: no mlflow or pandas import here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SPLIT_KEYS = frozenset({"columns", "data", "index"})


@dataclass(frozen=True, slots=True)
class Rows:
    """A payload read as rows of one frame."""

    key: tuple[Any, ...]
    """Equal for payloads that can be merged."""
    form: str
    """``input_data`` split or rows, ``dataframe_split`` or ``dataframe_records``."""
    rows: list[Any]
    columns: list[Any] | None
    index: list[Any] | None
    params: Any


def rows_of(payload: dict[str, Any]) -> Rows | None:
    """``payload`` as rows, or None when it cannot be merged with others."""
    params = payload.get("params")
    if "input_data" in payload:
        form, value = "input_data", payload["input_data"]
    else:
        found = [name for name in ("dataframe_split", "dataframe_records") if name in payload]
        others = {"instances", "inputs"} & payload.keys()
        if len(found) != 1 or others:
            return None
        form, value = found[0], payload[found[0]]
    if form == "dataframe_records":
        return _records(value, params)
    if isinstance(value, dict):
        return _split(form, value, params)
    if form == "input_data" and isinstance(value, list):
        return _plain_rows(value, params)
    return None


def merged_payload(members: list[Rows]) -> dict[str, Any]:
    """One payload, in the members' common format, holding all their rows in order."""
    first = members[0]
    rows = [row for member in members for row in member.rows]
    payload: dict[str, Any]
    if first.form == "dataframe_records":
        payload = {"dataframe_records": rows}
    elif first.form == "input_data" and first.columns is None and first.index is None:
        payload = {"input_data": rows}
    else:
        split: dict[str, Any] = {"data": rows}
        if first.columns is not None:
            split["columns"] = first.columns
        if first.index is not None:
            split["index"] = [label for member in members for label in member.index or []]
        payload = {first.form: split}
    if first.params is not None:
        payload["params"] = first.params
    return payload


def split_predictions(predictions: Any, counts: list[int]) -> list[Any] | None:
    """The predictions of each member, by its count of rows; None when the model did not
    answer one prediction per row (then the members are scored alone)."""
    total = sum(counts)
    if hasattr(predictions, "iloc"):  # pandas Series or DataFrame
        take = predictions.iloc
    elif isinstance(predictions, list) or getattr(predictions, "ndim", 0) >= 1:
        take = predictions  # a list or a numpy array
    else:
        return None
    if len(predictions) != total:
        return None
    parts, start = [], 0
    for count in counts:
        parts.append(take[start : start + count])
        start += count
    return parts


def _split(form: str, value: dict[str, Any], params: Any) -> Rows | None:
    rows, columns, index = value.get("data"), value.get("columns"), value.get("index")
    if not value.keys() <= SPLIT_KEYS or not isinstance(rows, list):
        return None
    if columns is not None and not isinstance(columns, list):
        return None
    if index is not None and (not isinstance(index, list) or len(index) != len(rows)):
        return None
    types = _row_types(rows)
    if types is None:
        return None
    has_index = index is not None
    column_key = None if columns is None else _hashable(columns)
    key = (form, column_key, has_index, types, _params_key(params))
    return Rows(key, form, rows, columns, index, params)


def _plain_rows(rows: list[Any], params: Any) -> Rows | None:
    types = _row_types(rows)
    if types is None:
        return None
    key = ("input_data rows", types, _params_key(params))
    return Rows(key, "input_data", rows, None, None, params)


def _records(records: Any, params: Any) -> Rows | None:
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        return None
    first = tuple((name, type(value)) for name, value in records[0].items())
    for record in records:
        if not isinstance(record, dict) or len(record) != len(first):
            return None
        if tuple((name, type(value)) for name, value in record.items()) != first:
            return None
    key = ("dataframe_records", tuple((name, kind.__name__) for name, kind in first))
    return Rows((*key, _params_key(params)), "dataframe_records", records, None, None, params)


def _row_types(rows: list[Any]) -> tuple[str, ...] | None:
    """The JSON types of the values of each row, when every row is a list of values of the
    same types as the first; else None."""
    if not rows or not isinstance(rows[0], list):
        return None
    first = tuple(map(type, rows[0]))
    for row in rows:
        if type(row) is not list or tuple(map(type, row)) != first:
            return None
    if any(kind in (list, dict) for kind in first):  # nested values: tensors, not a frame
        return None
    return tuple(kind.__name__ for kind in first)


def _hashable(columns: list[Any]) -> tuple[Any, ...] | str:
    if all(type(name) is str for name in columns):
        return tuple(columns)
    return json.dumps(columns)


def _params_key(params: Any) -> str | None:
    return None if params is None else json.dumps(params, sort_keys=True)
