"""Which MLflow payloads merge, into what, and how predictions are split back
(modelpack/inference_server/mlflow_batch.py). The server's answers with batching on are
checked against the model in test_mlflow.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelpack.inference_server.mlflow_batch import (
    Rows,
    merged_payload,
    rows_of,
    split_predictions,
)

COLUMNS = ["age", "bmi"]


def azure_split(rows: list[list[Any]], **extra: Any) -> dict[str, Any]:
    return {"input_data": {"columns": COLUMNS, "data": rows, **extra}}


def read(payload: dict[str, Any]) -> Rows:
    rows = rows_of(payload)
    assert rows is not None, payload
    return rows


def test_splits_of_the_same_columns_merge_in_order() -> None:
    first, second = read(azure_split([[1.0, 2.0]])), read(azure_split([[3.0, 4.0], [5.0, 6.0]]))
    assert first.key == second.key
    assert merged_payload([first, second]) == azure_split([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])


def test_indexes_are_kept_row_by_row() -> None:
    first = read(azure_split([[1.0, 2.0]], index=[7]))
    second = read(azure_split([[3.0, 4.0]], index=[0]))
    assert merged_payload([first, second]) == azure_split([[1.0, 2.0], [3.0, 4.0]], index=[7, 0])


@pytest.mark.parametrize(
    "other",
    [
        {"input_data": {"columns": ["bmi", "age"], "data": [[1.0, 2.0]]}},  # other columns
        azure_split([[1, 2.0]]),  # an int where the first has a float
        azure_split([[1.0, None]]),
        azure_split([[1.0, 2.0]], index=[0]),  # an index where the first has none
        {**azure_split([[1.0, 2.0]]), "params": {"alpha": 1}},
        {"dataframe_split": {"columns": COLUMNS, "data": [[1.0, 2.0]]}},  # MLflow's answer form
        {"input_data": [[1.0, 2.0]]},
    ],
)
def test_payloads_that_would_read_differently_do_not_merge(other: dict[str, Any]) -> None:
    assert read(azure_split([[1.0, 2.0]])).key != read(other).key


@pytest.mark.parametrize(
    "payload",
    [
        azure_split([[1.0, 2.0], [3.0]]),  # ragged: pandas would pad the short row
        azure_split([[1.0, 2.0], [3, 4.0]]),  # types change from row to row
        azure_split([[[1.0], [2.0]]]),  # nested values: a tensor
        azure_split([]),
        azure_split([[1.0, 2.0]], index=[0, 1]),  # an index of another length
        {"input_data": {"columns": COLUMNS, "data": [[1.0, 2.0]], "dtypes": {}}},
        {"input_data": {"age": [1.0], "bmi": [2.0]}},  # named tensors
        {"instances": [[1.0, 2.0]]},
        {"inputs": [[1.0, 2.0]]},
        {"dataframe_split": {"data": [[1.0]]}, "instances": [[1.0]]},  # two formats: a 400
        {"dataframe_records": [{"age": 1.0, "bmi": 2.0}, {"age": 1.0}]},  # keys differ
        {"dataframe_records": [{"age": 1.0, "bmi": 2.0}, {"bmi": 2.0, "age": 1.0}]},  # order
        {"dataframe_records": []},
    ],
)
def test_payloads_that_are_not_one_frame_of_uniform_rows_are_scored_alone(
    payload: dict[str, Any],
) -> None:
    assert rows_of(payload) is None


def test_records_and_plain_rows_merge_in_their_own_format() -> None:
    records = [read({"dataframe_records": [{"age": 1.0, "bmi": 2.0}]}) for _ in range(2)]
    assert merged_payload(records) == {"dataframe_records": [{"age": 1.0, "bmi": 2.0}] * 2}
    plain = [read({"input_data": [[1.0, 2.0]], "params": {"p": 1}}) for _ in range(2)]
    assert merged_payload(plain) == {"input_data": [[1.0, 2.0]] * 2, "params": {"p": 1}}


class Frame:
    """Stands for a pandas object: sliced by ``iloc``."""

    def __init__(self, values: list[int]) -> None:
        self.values = values
        self.iloc = self

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, part: slice) -> list[int]:
        return self.values[part]


def test_predictions_split_by_each_members_rows() -> None:
    parts = split_predictions(np.arange(6), [1, 2, 3])
    assert parts is not None
    assert [part.tolist() for part in parts] == [[0], [1, 2], [3, 4, 5]]
    assert split_predictions([0, 1, 2], [2, 1]) == [[0, 1], [2]]
    assert split_predictions(Frame([0, 1, 2]), [1, 2]) == [[0], [1, 2]]


@pytest.mark.parametrize(
    "predictions", [np.arange(5), np.float64(1.0), {"a": [0, 1, 2, 3, 4, 5]}, "012345"]
)
def test_predictions_that_are_not_one_per_row_cannot_be_split(predictions: Any) -> None:
    assert split_predictions(predictions, [3, 3]) is None
