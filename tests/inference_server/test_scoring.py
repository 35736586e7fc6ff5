"""The Azure ML scoring contract, against the real server process."""

from __future__ import annotations

import importlib.util
import json
import socket
import uuid
from pathlib import Path

import httpx
from inference_schema import schema_util


def test_seed_script_answers_the_models_own_predictions(
    start_server, seed_script, diabetes_model, diabetes_rows
):
    model_dir, model = diabetes_model
    server = start_server("--entry_script", str(seed_script), "--model_dir", str(model_dir))
    server.wait_ready()

    response = server.client.post("/score", json={"data": diabetes_rows})

    assert response.status_code == 200
    assert response.json() == model.predict(diabetes_rows).tolist()
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert float(response.headers["x-ms-run-fn-exec-ms"]) > 0


def test_liveness_and_readiness_routes(start_server, seed_script, diabetes_model):
    server = start_server("--entry_script", str(seed_script), "--model_dir", str(diabetes_model[0]))
    server.wait_ready()

    live = server.client.get("/")
    assert (live.status_code, live.text) == (200, "Healthy")
    assert server.client.get("/readyz").status_code == 200


def test_connections_are_kept_alive(start_server, seed_script, diabetes_model, diabetes_rows):
    server = start_server("--entry_script", str(seed_script), "--model_dir", str(diabetes_model[0]))
    server.wait_ready()
    ports = set()

    def remember_port(response: httpx.Response) -> None:
        ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])

    with httpx.Client(base_url=server.base_url, event_hooks={"response": [remember_port]}) as c:
        for _ in range(3):
            response = c.post("/score", json={"data": diabetes_rows})
            assert response.status_code == 200
            assert response.headers.get("connection") != "close"
    assert len(ports) == 1  # one TCP connection served all three


def test_environment_variables_select_script_and_model(
    start_server, seed_script, diabetes_model, diabetes_rows
):
    model_dir, model = diabetes_model
    server = start_server(
        env={"AZUREML_ENTRY_SCRIPT": seed_script.name, "AZUREML_MODEL_DIR": str(model_dir)},
        cwd=seed_script.parent,  # AML_APP_ROOT defaults to the working directory
    )
    server.wait_ready()
    response = server.client.post("/score", json={"data": diabetes_rows})
    assert response.json() == model.predict(diabetes_rows).tolist()


def test_request_id_headers(start_server, seed_script, diabetes_model):
    server = start_server("--entry_script", str(seed_script), "--model_dir", str(diabetes_model[0]))
    server.wait_ready()

    generated = server.client.get("/")
    request_id = generated.headers["x-request-id"]
    assert uuid.UUID(request_id).version == 4
    assert generated.headers["x-ms-request-id"] == request_id
    assert "x-ms-client-request-id" not in generated.headers

    ids = {"x-request-id": "rid-1", "x-ms-client-request-id": "c-1"}
    given = server.client.get("/", headers=ids)
    assert given.headers["x-request-id"] == "rid-1"
    assert given.headers["x-ms-client-request-id"] == "c-1"
    assert given.headers["x-ms-request-id"] == "c-1"

    legacy = server.client.get("/", headers={"x-ms-request-id": "legacy-1"})
    assert legacy.headers["x-ms-request-id"] == "legacy-1"
    assert legacy.headers["x-ms-client-request-id"] == "legacy-1"

    too_long = server.client.get("/", headers={"x-request-id": "x" * 101})
    assert too_long.status_code == 431


def test_inference_schema_script(start_server, make_script, diabetes_model, diabetes_rows):
    model_dir, model = diabetes_model
    script = make_script("""
        import os

        import joblib
        import numpy as np
        from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
        from inference_schema.parameter_types.standard_py_parameter_type import (
            StandardPythonParameterType,
        )
        from inference_schema.schema_decorators import input_schema, output_schema


        def init():
            global model
            model_dir = os.environ["AZUREML_MODEL_DIR"]
            model = joblib.load(os.path.join(model_dir, "model/sklearn_regression_model.pkl"))


        @input_schema("data", NumpyParameterType(np.array([[0.1] * 10])))
        @input_schema("scale", StandardPythonParameterType(1.0))
        @output_schema(StandardPythonParameterType([150.0]))
        def run(data, scale=1.0):
            return (model.predict(data) * scale).tolist()
    """)
    server = start_server("--entry_script", str(script), "--model_dir", str(model_dir))
    server.wait_ready()

    response = server.client.post("/score", json={"data": diabetes_rows, "scale": 2.0})
    assert response.status_code == 200
    assert response.json() == (model.predict(diabetes_rows) * 2.0).tolist()

    # The same schemas as inference-schema gives for the script's run().
    spec = importlib.util.spec_from_file_location("decorated_score", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected_input = schema_util.get_input_schema(module.run)
    expected_output = schema_util.get_output_schema(module.run)
    assert set(expected_input["properties"]) == {"data", "scale"}

    swagger2 = server.client.get("/swagger.json").json()
    assert swagger2["swagger"] == "2.0"
    assert swagger2["definitions"]["ServiceInput"] == expected_input
    assert swagger2["definitions"]["ServiceOutput"] == expected_output
    assert set(swagger2["paths"]) == {"/", "/score", "/swagger.json"}
    swagger3 = server.client.get("/swagger.json", params={"version": "3"}).json()
    assert swagger3["openapi"] == "3.0.3"
    assert swagger3["components"]["schemas"]["ServiceInput"] == expected_input

    not_json = server.client.post("/score", content=json.dumps({"data": diabetes_rows}))
    assert not_json.status_code == 415
    missing = server.client.post("/score", json={"scale": 2.0})
    assert missing.status_code == 400
    assert "'data'" in missing.json()["message"]


def test_swagger_of_an_undecorated_script(start_server, seed_script, diabetes_model):
    # azmlinfsrv 1.5.1 describes an undecorated run() with empty object schemas.
    server = start_server("--entry_script", str(seed_script), "--model_dir", str(diabetes_model[0]))
    server.wait_ready()

    swagger = server.client.get("/swagger.json").json()
    assert swagger["definitions"]["ServiceInput"] == {"type": "object", "example": {}}
    unknown = server.client.get("/swagger.json", params={"version": "5"})
    assert unknown.status_code == 404
    assert "not valid" in unknown.json()["message"]


def test_raw_request_script(start_server, make_script, tmp_path: Path):
    script = make_script("""
        from azureml.contrib.services.aml_request import AMLRequest, rawhttp
        from azureml.contrib.services.aml_response import AMLResponse


        def init():
            pass


        @rawhttp
        def run(request):
            if request.method == "GET":
                return {"path": request.full_path, "n": request.args.get("n"),
                        "agent": request.headers.get("user-agent")}
            if request.files:
                upload = request.files["image"]
                return AMLResponse(upload.read(), 200, {"Content-Type": upload.content_type})
            body = request.get_data(False)
            return AMLResponse(body[::-1], 201, {"X-Custom": "a, b"})
    """)
    server = start_server("--entry_script", str(script))
    server.wait_ready()

    get = server.client.get("/score", params={"n": "3"}, headers={"user-agent": "tester"})
    assert get.status_code == 200
    assert get.json() == {"path": "/score?n=3", "n": "3", "agent": "tester"}

    post = server.client.post("/score", content=b"hello")
    assert post.status_code == 201
    assert post.content == b"olleh"
    assert post.headers.get_list("x-custom") == ["a", "b"]
    assert post.headers["content-type"] == "text/html; charset=utf-8"

    upload = server.client.post("/score", files={"image": ("a.png", b"\x89PNG...", "image/png")})
    assert upload.status_code == 200
    assert upload.content == b"\x89PNG..."
    assert upload.headers["content-type"] == "image/png"


def test_get_options_and_unknown_routes(start_server, make_script):
    script = make_script("""
        import json

        def init():
            pass

        def run(raw_data, request_headers):
            return {"input": json.loads(raw_data), "header": request_headers.get("X-Test")}
    """)
    server = start_server("--entry_script", str(script))
    server.wait_ready()

    get = server.client.get("/score", params={"a": "1", "b": "x"}, headers={"x-test": "yes"})
    assert get.json() == {"input": {"a": 1, "b": "x"}, "header": "yes"}
    assert server.client.options("/score").status_code == 200
    assert server.client.put("/score").status_code == 405
    missing = server.client.get("/nowhere")
    assert missing.status_code == 404
    assert "not found" in missing.json()["message"]


def test_pipelined_requests_are_answered_in_order(start_server, make_script):
    # Responses are written at the end of an event-loop turn (inference.transport); two
    # requests sent in one packet must still get two complete answers, in order.
    script = make_script("""
        def init():
            pass

        def run(raw_data):
            return raw_data.upper()
    """)
    server = start_server("--entry_script", str(script))
    server.wait_ready()
    request = "POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall((request.format(3, "one") + request.format(3, "two")).encode())
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 2 or not received.endswith(b'"TWO"'):
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {received!r}"
            received += chunk
    assert received.index(b'"ONE"') < received.index(b'"TWO"')
