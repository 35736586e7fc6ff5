"""What data collection costs the inference server: requests/s and latency with every request
recorded (all four collections, ``sampling_rate`` 1.0), with a tenth recorded, and with
collection off (the reference), measured in the same run.

Same server, score.py, Ridge model, 2-row request and load generator (``wrk``, 16 connections,
loopback) as ``bench_inference.py``; the cases are measured in alternation, ``--rounds`` times
each, and the round with the median requests/s is reported.

    .venv/bin/python bench/bench_data_collection.py             # about 2 minutes
    .venv/bin/python bench/bench_data_collection.py --duration 3 --rounds 1 --workers 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from wrk_rounds import (
    ServerSpec,
    ensure_wrk,
    measure,
    prepare,
    print_comparison,
    round_arguments,
)

COLLECTIONS = "model_inputs,model_outputs,request,response"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    round_arguments(parser)
    args = parser.parse_args()

    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-collection-") as tmp:
        folder = Path(tmp)
        body = prepare(folder)
        print(f"load average before: {os.getloadavg()[0]:.2f}; cpus: {os.cpu_count()}")
        rows = []
        for workers in args.workers:
            specs = [
                server("off", {}),
                server("all, rate 1.0", collecting(folder / "store-all", "1.0")),
                server("all, rate 0.1", collecting(folder / "store-tenth", "0.1")),
            ]
            results = measure(specs, workers, folder, body, wrk, args)
            rows += [(spec.name, workers, results[spec.name]) for spec in specs]
            written = sum(
                len(path.read_text().splitlines())
                for path in (folder / "store-all").rglob("*.jsonl")
            )
            print(f"records written at rate 1.0 with {workers} worker(s): {written:,}")
    print_comparison(rows, "off", "collection")
    return 0


def server(name: str, env: dict[str, str]) -> ServerSpec:
    return ServerSpec(name, [sys.executable, "-m", "modelpack.inference_server"], "/readyz", env)


def collecting(store: Path, rate: str) -> dict[str, str]:
    return {
        "DATA_COLLECTION_DIR": str(store),
        "DATA_COLLECTION_COLLECTIONS": COLLECTIONS,
        "DATA_COLLECTION_SAMPLING_RATE": rate,
    }


if __name__ == "__main__":
    sys.exit(main())
