"""JSON, table and tsv output, and --query."""

from __future__ import annotations

import json

import pytest

from modelpack.cli.errors import CliError
from modelpack.cli.output_format import render

ROWS = [
    {"name": "ep", "traffic": {"blue": 90, "green": 10}, "uri": "http://x", "n": None},
    {"name": "other-endpoint", "traffic": {}, "uri": "http://y", "n": 2},
]
COLUMNS = [("Name", "name"), ("Traffic", "traffic"), ("URI", "uri")]


def test_json_is_the_default_shape() -> None:
    assert json.loads(render(ROWS, "json", COLUMNS)) == ROWS


def test_table_has_a_heading_a_rule_and_aligned_columns() -> None:
    assert render(ROWS, "table", COLUMNS).splitlines() == [
        "Name            Traffic           URI",
        "--------------  ----------------  --------",
        "ep              blue=90 green=10  http://x",
        "other-endpoint                    http://y",
    ]


def test_query_picks_a_field_for_scripts() -> None:
    assert render(ROWS[0], "tsv", COLUMNS, "uri") == "http://x"
    assert render(ROWS, "tsv", COLUMNS, "1.name") == "other-endpoint"
    assert render(ROWS[0], "json", COLUMNS, "traffic.blue") == "90"
    assert render(ROWS[0], "table", COLUMNS, "traffic").splitlines()[2].split() == ["90", "10"]
    with pytest.raises(CliError, match="no 'nope' in the result"):
        render(ROWS[0], "json", COLUMNS, "nope")
