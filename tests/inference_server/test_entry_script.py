"""A score.py's ``run()`` and ``run_batch(list_of_raw_data)``
(modelpack/inference_server/entry_script.py): what ``run()`` is given for each way it can be
declared; ``run_batch`` used for POST bodies when batching is on, each output answered as
run()'s would be; a failing run_batch gives way to run() request by request."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from modelpack.inference_server.entry_script import EntryScript
from modelpack.inference_server.scoring import ClientError, Reply, RunFailed, ScoreRequest

# run() doubles each number; run_batch() does it for several bodies in one call, and fails
# on purpose for a batch holding "fail-batch". A value "bad" fails its own request.
BATCHING_SCRIPT = """
import json

calls = []


def init():
    pass


def run(raw_data):
    value = json.loads(raw_data)["value"]
    if value == "bad":
        raise ValueError("bad value")
    return {"doubled": value * 2, "by": "run"}


def run_batch(list_of_raw_data):
    calls.append(len(list_of_raw_data))
    values = [json.loads(raw)["value"] for raw in list_of_raw_data]
    if "fail-batch" in values:
        raise RuntimeError("the whole batch fails")
    return [
        ValueError("bad value") if value == "bad" else {"doubled": value * 2, "by": "batch"}
        for value in values
    ]
"""


def post(value: object) -> ScoreRequest:
    body = json.dumps({"value": value}).encode()
    return ScoreRequest("POST", "/score", b"", [], body, str(value))


def loaded(make_script: Callable[..., Path], source: str = BATCHING_SCRIPT) -> EntryScript:
    script = EntryScript(str(make_script(source)))
    script.init()
    return script


def answer(outcome: Reply | Exception) -> object:
    assert isinstance(outcome, Reply), outcome
    return json.loads(outcome.body)


ECHO_SCRIPT = """
def init():
    pass


def run({parameters}):
    if raw_data == "fail":
        raise KeyError("no such row")
    return {{"got": raw_data, "headers": {headers}}}
"""


def echo_script(make_script: Callable[..., Path], parameters: str, headers: str = "None"):
    source = ECHO_SCRIPT.format(parameters=parameters, headers=headers)
    return loaded(make_script, source)


def test_run_raw_data_gets_the_post_body_as_a_str(make_script) -> None:
    reply = echo_script(make_script, "raw_data").score(post("x"))
    assert json.loads(reply.body) == {"got": '{"value": "x"}', "headers": None}
    headers = dict(reply.headers)
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"x-ms-run-function-failed"] == b"False"
    assert float(headers[b"x-ms-run-fn-exec-ms"]) >= 0


def test_a_keyword_only_raw_data_gets_the_body_too(make_script) -> None:
    reply = echo_script(make_script, "*, raw_data").score(post("x"))
    assert json.loads(reply.body)["got"] == '{"value": "x"}'


def test_request_headers_are_given_when_run_asks_for_them(make_script) -> None:
    script = echo_script(make_script, "raw_data, request_headers", "request_headers")
    request = ScoreRequest("POST", "/score", b"", [(b"x-custom", b"1")], b"body", "id")
    assert json.loads(script.score(request).body) == {
        "got": "body",
        "headers": {"X-Custom": "1"},
    }


def test_a_get_gives_run_the_query_string_as_a_json_object(make_script) -> None:
    request = ScoreRequest("GET", "/score", b"a=1&b=x", [], b"", "id")
    reply = echo_script(make_script, "raw_data").score(request)
    assert json.loads(json.loads(reply.body)["got"]) == {"a": 1, "b": "x"}


def test_a_body_that_is_not_utf8_is_answered_400(make_script) -> None:
    for parameters in ("raw_data", "*, raw_data"):
        request = ScoreRequest("POST", "/score", b"", [], b"\xff\xfe", "id")
        with pytest.raises(ClientError, match="UTF-8") as refused:
            echo_script(make_script, parameters).score(request)
        assert refused.value.status == 400


def test_an_exception_in_run_is_a_run_failure_naming_it(make_script) -> None:
    request = ScoreRequest("POST", "/score", b"", [], b"fail", "id")
    with pytest.raises(RunFailed, match="^KeyError: 'no such row'$") as failed:
        echo_script(make_script, "raw_data").score(request)
    assert isinstance(failed.value.__cause__, KeyError)


def test_run_batch_answers_post_bodies_in_one_call(make_script) -> None:
    script = loaded(make_script)
    assert script.batches()
    get = ScoreRequest("GET", "/score", b"value=4", [], b"", "get")
    result = script.score_batch([post(1), post(2), get, post(3)])
    assert [answer(o) for o in result.outcomes[:2]] == [
        {"doubled": 2, "by": "batch"},
        {"doubled": 4, "by": "batch"},
    ]
    assert answer(result.outcomes[2]) == {"doubled": 8, "by": "run"}  # GET: run(), as ever
    assert answer(result.outcomes[3]) == {"doubled": 6, "by": "batch"}
    assert sorted(result.calls) == [1, 3]


def test_an_exception_among_the_outputs_fails_only_its_request(make_script) -> None:
    result = loaded(make_script).score_batch([post(1), post("bad"), post(3)])
    assert answer(result.outcomes[0]) == {"doubled": 2, "by": "batch"}
    assert isinstance(result.outcomes[1], RunFailed)
    assert "bad value" in str(result.outcomes[1])
    assert answer(result.outcomes[2]) == {"doubled": 6, "by": "batch"}


def test_a_run_batch_that_raises_gives_way_to_run(make_script) -> None:
    result = loaded(make_script).score_batch([post(1), post("fail-batch"), post(3)])
    assert answer(result.outcomes[0]) == {"doubled": 2, "by": "run"}
    assert answer(result.outcomes[1]) == {"doubled": "fail-batch" * 2, "by": "run"}
    assert answer(result.outcomes[2]) == {"doubled": 6, "by": "run"}
    assert result.calls == [1, 1, 1]


def test_a_body_that_is_not_utf8_is_refused_alone(make_script) -> None:
    undecodable = ScoreRequest("POST", "/score", b"", [], b"\xff", "x")
    result = loaded(make_script).score_batch([post(1), undecodable])
    assert answer(result.outcomes[0]) == {"doubled": 2, "by": "batch"}
    assert isinstance(result.outcomes[1], ClientError)


def test_without_run_batch_a_script_does_not_batch(make_script) -> None:
    source = "def init():\n    pass\n\ndef run(raw_data):\n    return raw_data\n"
    assert not loaded(make_script, source).batches()


def test_the_server_merges_concurrent_requests_for_run_batch(start_server, make_script) -> None:
    script = make_script(BATCHING_SCRIPT)
    env = {"MAX_BATCH_SIZE": "16", "MAX_BATCH_LATENCY_MS": "5000"}
    server = start_server("--entry_script", str(script), env=env).wait_ready()

    values: list[object] = [1, 2, 3, "bad", 5, 6, 7, 8]
    answers = server.post_together([json.dumps({"value": value}).encode() for value in values])

    assert [status for status, _ in answers] == [200, 200, 200, 500, 200, 200, 200, 200]
    replies = [json.loads(body) for status, body in answers if status == 200]
    assert [reply["doubled"] for reply in replies] == [2, 4, 6, 10, 12, 14, 16]
    assert {reply["by"] for reply in replies} == {"batch"}
    # The requests were in flight together: they went in one call, "bad" failing only itself.
    assert server.metric("inference_batch_size_count") == 1
    assert server.metric("inference_batch_size_sum") == len(values)
