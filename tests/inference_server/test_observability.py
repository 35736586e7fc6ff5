"""Request logs and Prometheus metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

SCRIPT = """
def init():
    pass

def run(raw_data):
    if raw_data == "fail":
        raise RuntimeError("asked to fail")
    return "ok"
"""


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_one_json_log_line_per_request(start_server, make_script, wait_until):
    server = start_server("--entry_script", str(make_script(SCRIPT)))
    server.wait_ready()
    sent = {f"log-{i}": body for i, body in enumerate([b"a", b"fail", b"b"])}
    for request_id, body in sent.items():
        server.client.post("/score", content=body, headers={"x-request-id": request_id})

    def access_lines() -> list[dict]:
        return [
            r
            for r in server.log_records()
            if r["logger"] == "inference.access" and r["request_id"] in sent
        ]

    wait_until(lambda: len(access_lines()) >= 3, 10, "three access log lines")
    lines = {line["request_id"]: line for line in access_lines()}
    assert len(access_lines()) == 3
    assert {rid: line["status"] for rid, line in lines.items()} == {
        "log-0": 200,
        "log-1": 500,
        "log-2": 200,
    }
    for line in lines.values():
        assert line["method"] == "POST"
        assert line["path"] == "/score"
        assert line["duration_ms"] > 0
        assert line["level"] == "INFO"
        assert line["time"].endswith("Z")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics(start_server, make_script, workers):
    server = start_server("--entry_script", str(make_script(SCRIPT)), env={"WORKER_COUNT": workers})
    server.wait_ready()
    for body in (b"a", b"b", b"fail"):
        server.client.post("/score", content=body)

    response = server.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = samples(response.text)
    score_200 = frozenset({("route", "/score"), ("status", "200")})
    score_500 = frozenset({("route", "/score"), ("status", "500")})
    assert values[("inference_requests_total", score_200)] == 2
    assert values[("inference_requests_total", score_500)] == 1
    score = frozenset({("route", "/score")})
    assert values[("inference_request_duration_seconds_count", score)] == 3
    assert values[("inference_request_duration_seconds_bucket", score | {("le", "+Inf")})] == 3
    assert values[("inference_requests_in_flight", frozenset())] == 0
