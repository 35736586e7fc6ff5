"""Adaptive batching against none, on an MLflow model served without a score.py.

The same server, sklearn model (a Ridge regression of sklearn's diabetes data, saved with
mlflow) and 2-row request, under ``wrk`` at 64 connections, with batching off and with
``MAX_BATCH_SIZE`` of 32 and 64 (``MAX_BATCH_LATENCY_MS`` 5), in alternation, ``--rounds``
times each (the round with the median requests/s is reported; see ``wrk_rounds.py``).
Each p99 with batching is compared with its bound: the configured latency plus one predict
of a full batch, timed in the same run by ``score_batch`` on the server's own code.

    .venv/bin/python bench/bench_batching.py            # about 3 minutes
    .venv/bin/python bench/bench_batching.py --max-batch-sizes 16 64 --max-latency-ms 2

The servers run with the tests' mlflow virtualenv (``tests/support/mlflow_venv.py``, made on
first use), which holds mlflow, scikit-learn and the server's requirements.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from wrk_rounds import REPO, WRK_SCRIPT, Result, ServerSpec, ensure_wrk, measure, round_arguments

sys.path.insert(0, str(REPO))
from tests.support.mlflow_venv import mlflow_python  # noqa: E402

CONNECTIONS = 64

SAVE_MODEL = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

features, target = load_diabetes(return_X_y=True, as_frame=True)
model = Ridge().fit(features, target)
mlflow.sklearn.save_model(
    model, sys.argv[1], serialization_format="pickle",
    signature=infer_signature(features.head(), model.predict(features.head())),
)
rows = features.iloc[:2]
print(json.dumps({"columns": list(rows.columns), "data": rows.values.tolist()}))
"""

# One full batch through the server's own merging code, as a worker would score it.
TIME_BATCH = """
import json, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
from modelpack.inference_server.mlflow_scoring import MlflowModel
from modelpack.inference_server.scoring import ScoreRequest

model = MlflowModel(sys.argv[1])
model.init()
body = open(sys.argv[2], "rb").read()
headers = [(b"content-type", b"application/json")]
size = int(sys.argv[3])
batch = [ScoreRequest("POST", "/score", b"", headers, body, str(i)) for i in range(size)]
times = []
for _ in range(50):
    started = time.perf_counter()
    result = model.score_batch(batch)
    times.append(time.perf_counter() - started)
assert result.calls == [len(batch)], result.calls
print(statistics.median(times) * 1000)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    round_arguments(parser, rounds=3)
    parser.add_argument("--max-batch-sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--max-latency-ms", type=int, default=5)
    args = parser.parse_args()

    wrk = ensure_wrk()
    python = str(mlflow_python())
    with tempfile.TemporaryDirectory(prefix="bench-batching-") as tmp:
        folder = Path(tmp)
        body = prepare(folder, python)
        bounds = {}
        for size in args.max_batch_sizes:
            predict_ms = time_batch(python, folder, body, size)
            bounds[f"on, {size}"] = args.max_latency_ms + predict_ms
            print(f"one predict of a full batch of {size}: {predict_ms:.2f} ms")
        print(f"load average before: {os.getloadavg()[0]:.2f}; cpus: {os.cpu_count()}")
        specs = [server("off", python, {})]
        for size in args.max_batch_sizes:
            batching = {
                "MAX_BATCH_SIZE": str(size),
                "MAX_BATCH_LATENCY_MS": str(args.max_latency_ms),
            }
            specs.append(server(f"on, {size}", python, batching))
        rows = []
        for workers in args.workers:
            results = measure(specs, workers, folder, body, wrk, args, CONNECTIONS)
            rows += [(spec.name, workers, results[spec.name]) for spec in specs]
    print_table(rows, bounds, args)
    return 0


def prepare(folder: Path, python: str) -> Path:
    """The MLflow model at ``<folder>/model/model``, wrk's script, and the request body."""
    saved = subprocess.run(
        [python, "-c", SAVE_MODEL, str(folder / "model" / "model")],
        check=True,
        capture_output=True,
        text=True,
    )
    split = json.loads(saved.stdout)
    (folder / "post.lua").write_text(WRK_SCRIPT)
    body = folder / "request.json"
    body.write_text(json.dumps({"input_data": {**split, "index": [0, 1]}}))
    return body


def time_batch(python: str, folder: Path, body: Path, size: int) -> float:
    command = [python, "-c", TIME_BATCH, str(folder / "model" / "model"), str(body), str(size)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return float(done.stdout.split()[-1])


def server(name: str, python: str, env: dict[str, str]) -> ServerSpec:
    command = [python, "-m", "modelpack.inference_server"]
    return ServerSpec(name, command, "/readyz", {"AZUREML_LOG_LEVEL": "WARNING", **env}, None)


def print_table(rows: list[tuple[str, int, Result]], bounds: dict[str, float], args) -> None:
    print()
    print(
        f"wrk: {CONNECTIONS} connections, {args.threads} thread(s); batching: "
        f"max_latency_ms {args.max_latency_ms}, max_batch_size as named"
    )
    print()
    print(
        "| batching | workers | requests/s | vs off | p50 ms | p99 ms "
        "| bound ms (latency + one predict) | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    off = {workers: r for name, workers, r in rows if name == "off"}
    for name, workers, r in rows:
        bound = f"{bounds[name]:.2f}" if name in bounds else ""
        print(
            f"| {name} | {workers} | {r.requests_per_s:,.0f} | "
            f"{r.requests_per_s / off[workers].requests_per_s:.2f}x | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {bound} | {r.errors} |"
        )
    print()
    for name, workers, r in rows:
        if name not in bounds:
            continue
        speedup = r.requests_per_s / off[workers].requests_per_s
        verdict = "meets" if speedup >= 2 and r.p99_ms <= bounds[name] else "misses"
        print(
            f"{name}, {workers} worker(s): {speedup:.2f}x the requests/s, p99 {r.p99_ms:.2f} ms "
            f"against {bounds[name]:.2f} ms -> {verdict} the target (>= 2x, p99 <= bound)"
        )


if __name__ == "__main__":
    sys.exit(main())
