"""The per-request helpers that were made cheaper give what their generic versions gave."""

from __future__ import annotations

import json
import logging
import random
import uuid

import pytest
from prometheus_client import values as prometheus_values

from modelpack.inference_server import logs
from modelpack.inference_server.metrics import Metrics
from modelpack.inference_server.scoring import json_too_deep, random_uuid


def test_random_uuid_is_what_uuid_module_makes_of_the_same_bits():
    for seed in range(2000):
        random.seed(seed)
        made = random_uuid()
        random.seed(seed)
        assert made == str(uuid.UUID(int=random.getrandbits(128), version=4))
        assert uuid.UUID(made).version == 4


class Lines:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write_line(self, line: bytes) -> None:
        self.lines.append(line)


@pytest.mark.parametrize(
    ("request_id", "path", "client_id"),
    [
        ("0ebd0c3e-5b4e-4a43-8d39-5c2c5ad3c7b1", "/score", None),
        ('quote " backslash \\ newline \n control \x01', "/é/€/😀 x", 'client "id"'),
        ("id", "/", ""),
    ],
)
def test_a_request_log_line_is_json_dumps_of_its_entry(monkeypatch, request_id, path, client_id):
    lines = Lines()
    monkeypatch.setattr(logs, "_handler", lines)
    monkeypatch.setattr(logs.access_logger, "level", logging.INFO)
    logs.log_request(request_id, "POST", path, 200, 0.0012344, client_id)
    line = lines.lines[0].decode()
    entry = json.loads(line)
    expected = {
        "time": entry["time"],
        "level": "INFO",
        "logger": "inference.access",
        "pid": logs._PID,
        "message": "request",
        "request_id": request_id,
        "method": "POST",
        "path": path,
        "status": 200,
        "duration_ms": 1.234,
    }
    if client_id is not None:
        expected["client_request_id"] = client_id
    assert line == json.dumps(expected) + "\n"


def test_milliseconds_are_what_repr_makes_of_the_rounded_value():
    generator = random.Random(0)
    seconds = [0.0, 1e-7, 0.0005, 0.0015, 0.0025, 1.0, 59.9999996, 1234.5678905]
    seconds += [generator.uniform(0, 0.01) for _ in range(20_000)]
    seconds += [generator.uniform(0, 100) for _ in range(20_000)]
    seconds += [generator.randrange(0, 10**6) / 10**6 for _ in range(20_000)]
    for value in seconds:
        assert logs.milliseconds(value) == repr(round(value * 1000, 3)), value


def test_timestamps_within_a_second_share_its_text_and_differ_in_milliseconds():
    assert logs.timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert logs.timestamp(0.5) == "1970-01-01T00:00:00.500Z"
    assert logs.timestamp(86400.25) == "1970-01-02T00:00:00.250Z"
    assert logs.timestamp(0.999) == "1970-01-01T00:00:00.999Z"


def test_json_depth_is_still_checked_past_the_short_body_shortcut():
    assert not json_too_deep(b"[" * 512)  # no longer than the limit: cannot nest deeper
    assert json_too_deep(b"[" * 513)
    assert not json_too_deep(b'"' + b"[" * 600 + b'"')


def test_observed_durations_land_in_the_buckets_histogram_observe_would_choose(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    metrics = Metrics()
    for seconds in (0.0001, 0.0005, 0.0007, 2.0, 99.0):
        metrics.observe("/score", 200, seconds)
    text = metrics.exposition().decode()
    assert 'inference_requests_total{route="/score",status="200"} 5.0' in text
    assert 'inference_request_duration_seconds_bucket{le="0.0005",route="/score"} 2.0' in text
    assert 'inference_request_duration_seconds_bucket{le="0.001",route="/score"} 3.0' in text
    assert 'inference_request_duration_seconds_bucket{le="2.5",route="/score"} 4.0' in text
    assert 'inference_request_duration_seconds_bucket{le="30.0",route="/score"} 4.0' in text
    assert 'inference_request_duration_seconds_bucket{le="+Inf",route="/score"} 5.0' in text
    assert 'inference_request_duration_seconds_sum{route="/score"} 101.0013' in text


def test_counts_reach_other_workers_scrapes_once_published(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    # prometheus_client picks file-backed values at import: pick again, with the variable set.
    monkeypatch.setattr(prometheus_values, "ValueClass", prometheus_values.get_value_class())
    counting, scraping = Metrics(), Metrics()  # two workers' metrics, over the same files
    counting.observe("/score", 200, 0.002)  # the first answer of a label set: published at once
    for _ in range(3):
        counting.observe("/score", 200, 0.002)
    line = 'inference_requests_total{route="/score",status="200"}'
    assert f"{line} 1.0" in scraping.exposition().decode()
    counting.publish()
    text = scraping.exposition().decode()
    assert f"{line} 4.0" in text
    assert 'inference_request_duration_seconds_bucket{le="0.0025",route="/score"} 4.0' in text
    counting.publish()  # nothing new: nothing added twice
    assert f"{line} 4.0" in scraping.exposition().decode()
