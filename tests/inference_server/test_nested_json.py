"""JSON nested deeper than a parser can follow is the client's error (400), whichever parser
would have met it: the user's run(), a schema-decorated run() or an MLflow model."""

from __future__ import annotations

import pytest

TOO_DEEP = [
    pytest.param(b"[" * 100_000, id="open-arrays"),
    pytest.param(b'{"data": ' + b"[" * 5_000 + b"1" + b"]" * 5_000 + b"}", id="closed-arrays"),
    pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, id="objects"),
]


@pytest.mark.parametrize("body", TOO_DEEP)
def test_nested_json_too_deep_for_the_parser_is_a_400(
    start_server, seed_script, diabetes_model, body
):
    model_dir, _ = diabetes_model
    server = start_server("--entry_script", str(seed_script), "--model_dir", str(model_dir))
    server.wait_ready()

    response = server.client.post(
        "/score", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400, response.text
    assert "nested" in response.json()["message"]
    assert server.client.get("/").status_code == 200


def test_nested_json_in_a_get_query_is_a_400(start_server, seed_script, diabetes_model):
    model_dir, _ = diabetes_model
    server = start_server("--entry_script", str(seed_script), "--model_dir", str(model_dir))
    server.wait_ready()

    response = server.client.get("/score", params={"data": "[" * 5_000})

    assert response.status_code == 400, response.text


def test_deep_but_parseable_json_and_brackets_in_strings_still_reach_run(start_server, make_script):
    script = make_script("""
        import json

        def init():
            pass

        def run(raw_data):
            return len(json.dumps(json.loads(raw_data)))
    """)
    server = start_server("--entry_script", str(script))
    server.wait_ready()

    nested = b"[" * 100 + b"]" * 100
    in_strings = b'{"text": "' + b"[{" * 50_000 + b'", "rows": [[1, 2], [3, 4]]}'
    for body in (nested, in_strings):
        response = server.client.post("/score", content=body)
        assert response.status_code == 200, response.text
