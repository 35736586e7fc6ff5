"""Data collection by the real server: sampled records in Azure ML's folder layout, joined by
request id, and a store that refuses writes costing nothing but dropped records."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from modelpack.assets.data_collector import STANDARD_COLLECTIONS
from modelpack.inference_server.settings import COLLECTIONS, CollectionSettings, SettingsError

SCRIPT = """
import json

def init():
    pass

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("fail"):
        raise RuntimeError("asked to fail")
    return {"doubled": [2 * x for x in data["x"]]}
"""
ALL = ",".join(COLLECTIONS)
HOUR_FILE = re.compile(r"^\d{4}/\d{2}/\d{2}/\d{2}/[^/]+-\d+\.jsonl$")


def records(folder: Path, collection: str) -> Iterator[tuple[str, dict]]:
    """(path relative to the collection's folder, record) of every record written."""
    base = folder / collection
    for path in sorted(base.rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            yield str(path.relative_to(base)), json.loads(line)


def collecting_server(start_server, make_script, folder: Path, **env: str):
    server = start_server(
        "--entry_script",
        str(make_script(SCRIPT)),
        env={
            "DATA_COLLECTION_DIR": str(folder),
            "DATA_COLLECTION_COLLECTIONS": ALL,
            "DATA_COLLECTION_SOURCE": "/endpoints/e/deployments/blue",
            **env,
        },
    )
    return server.wait_ready()


def send(server, bodies: list[dict], headers: dict[str, str] | None = None) -> list[int]:
    def one(item: tuple[int, dict]) -> int:
        index, body = item
        ids = {"x-request-id": f"req-{index}", **(headers or {})}
        return server.client.post("/score", json=body, headers=ids).status_code

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, enumerate(bodies)))


def test_the_provisioner_and_the_server_know_the_same_collections():
    assert STANDARD_COLLECTIONS == COLLECTIONS


@pytest.mark.parametrize("workers", ["1", "2"])
def test_half_of_1000_requests_recorded_and_joined_by_request_id(
    start_server, make_script, tmp_path, wait_until, workers
):
    folder = tmp_path / "store"
    server = collecting_server(
        start_server,
        make_script,
        folder,
        DATA_COLLECTION_SAMPLING_RATE="0.5",
        WORKER_COUNT=workers,
    )
    statuses = send(server, [{"x": [i, i + 1]} for i in range(1000)])
    assert statuses == [200] * 1000

    def written() -> float:
        return server.metric("inference_data_collection_records_total")

    def settled() -> bool:
        """Enough written, and the writers done: the count no longer moves."""
        before = written()
        time.sleep(0.2)
        return before >= 4 * 500 - 4 * int(workers) and written() == before

    wait_until(settled, 10, "records written")
    inputs = dict(records(folder, "model_inputs"))
    by_id = {
        name: {record["correlationid"]: (path, record) for path, record in records(folder, name)}
        for name in COLLECTIONS
    }
    # Systematic sampling: within one record per worker of half.
    assert abs(len(by_id["model_inputs"]) - 500) <= int(workers), len(inputs)
    assert by_id["model_inputs"].keys() == by_id["model_outputs"].keys()
    assert by_id["model_inputs"].keys() == by_id["request"].keys() == by_id["response"].keys()
    for request_id, (path, model_input) in by_id["model_inputs"].items():
        assert HOUR_FILE.match(path), path
        index = int(request_id.removeprefix("req-"))
        assert model_input["data"] == {"x": [index, index + 1]}
        assert model_input["type"] == "azureml.inference.model_inputs"
        assert model_input["source"] == "/endpoints/e/deployments/blue"
        assert model_input["specversion"] == "1.0"
        assert model_input["time"].endswith("Z")
        output = by_id["model_outputs"][request_id][1]
        assert output["data"] == {"doubled": [2 * index, 2 * index + 2]}
        assert by_id["response"][request_id][1]["status"] == 200
        assert by_id["request"][request_id][1]["method"] == "POST"
    assert server.metric("inference_data_collection_dropped_total") == 0


def test_a_failed_run_records_its_input_not_an_output(start_server, make_script, tmp_path):
    folder = tmp_path / "store"
    server = collecting_server(start_server, make_script, folder)
    assert send(server, [{"fail": True}, {"x": [1]}]) == [500, 200]
    server.close()  # the writer drains its queue on shutdown

    inputs = {r["correlationid"] for _, r in records(folder, "model_inputs")}
    outputs = {r["correlationid"] for _, r in records(folder, "model_outputs")}
    responses = {r["correlationid"]: r["status"] for _, r in records(folder, "response")}
    assert inputs == {"req-0", "req-1"}
    assert outputs == {"req-1"}
    assert responses == {"req-0": 500, "req-1": 200}


def test_captured_headers_but_never_the_key(start_server, make_script, tmp_path):
    folder = tmp_path / "store"
    server = collecting_server(
        start_server,
        make_script,
        folder,
        DATA_COLLECTION_COLLECTIONS="request",
        DATA_COLLECTION_CAPTURE_HEADERS="X-Customer-Id,Authorization",
    )
    headers = {"x-customer-id": "c-42", "authorization": "Bearer secret-key"}
    assert send(server, [{"x": [1]}], headers) == [200]
    server.close()

    (_, record), *others = records(folder, "request")
    assert not others
    assert record["headers"] == {"x-customer-id": "c-42"}
    assert "secret-key" not in json.dumps(record)
    assert not (folder / "model_inputs").exists()


def test_minute_rolling_rate_partitions_by_minute(start_server, make_script, tmp_path):
    folder = tmp_path / "store"
    server = collecting_server(
        start_server,
        make_script,
        folder,
        DATA_COLLECTION_COLLECTIONS="model_inputs",
        DATA_COLLECTION_ROLLING_RATE="minute",
    )
    send(server, [{"x": [1]}])
    server.close()
    [(path, _)] = list(records(folder, "model_inputs"))
    assert re.match(r"^\d{4}/\d{2}/\d{2}/\d{2}/\d{2}/[^/]+\.jsonl$", path), path


def test_a_store_that_refuses_writes_drops_records_and_answers_200(
    start_server, make_script, tmp_path, wait_until
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    server = collecting_server(start_server, make_script, blocker / "store", WORKER_COUNT="2")
    assert send(server, [{"x": [i]} for i in range(50)]) == [200] * 50

    def dropped() -> float:
        return server.metric("inference_data_collection_dropped_total", reason="write_failed")

    wait_until(lambda: dropped() == 4 * 50, 10, "200 records counted as dropped")
    warnings = [r for r in server.log_records() if r["logger"] == "inference.data_collection"]
    assert warnings and "cannot write" in warnings[0]["message"]


def test_a_full_queue_drops_records_and_answers_200(start_server, make_script, tmp_path):
    folder = tmp_path / "store"
    server = collecting_server(start_server, make_script, folder, DATA_COLLECTION_QUEUE_BYTES="1")
    assert send(server, [{"x": [i]} for i in range(20)]) == [200] * 20
    assert server.metric("inference_data_collection_dropped_total", reason="queue_full") == 80
    assert server.metric("inference_data_collection_records_total") == 0


def test_collection_off_by_default(start_server, make_script, tmp_path):
    server = start_server("--entry_script", str(make_script(SCRIPT))).wait_ready()
    assert send(server, [{"x": [1]}]) == [200]
    assert "inference_data_collection" not in httpx.get(server.url("/metrics")).text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATA_COLLECTION_COLLECTIONS": "inputs"}, "DATA_COLLECTION_COLLECTIONS must name"),
        ({"DATA_COLLECTION_SAMPLING_RATE": "1.5"}, "at most 1.0"),
        ({"DATA_COLLECTION_SAMPLING_RATE": "half"}, "must be a number"),
        ({"DATA_COLLECTION_ROLLING_RATE": "week"}, "ROLLING_RATE must be one of"),
    ],
)
def test_bad_settings_name_the_variable(env, message):
    full = {"DATA_COLLECTION_DIR": "/store", "DATA_COLLECTION_COLLECTIONS": ALL, **env}
    with pytest.raises(SettingsError, match=message):
        CollectionSettings.from_env(full)
