"""Soak: a steady load through an endpoint with two deployments for a long while, with a
traffic change in the middle; counts errors, reports latency percentiles and the memory of
every replica at the start and at the end.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 50]

Deploys the example workspace (blue 80 / green 20) into a throw-away stack and destroys it
afterwards. Needs `make setup` and `source scripts/env.sh`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.load import SteadyLoad  # noqa: E402
from tests.support.project import copy_example_assets, modelpack_stack  # noqa: E402

ENDPOINT = "sklearn-regression-online"


def replica_memory(stack_name: str) -> dict[str, int]:
    """Resident memory (bytes, cgroup usage less page cache) of every replica of the stack."""
    client = docker.from_env()
    label = [f"modelpack.stack={stack_name}", "modelpack.role=replica"]
    memory = {}
    for container in client.containers.list(filters={"label": label}):
        stats = container.stats(stream=False)["memory_stats"]
        cache = stats.get("stats", {}).get("cache", 0)
        key = f"{container.labels['modelpack.deployment']}-{container.labels['modelpack.replica']}"
        memory[key] = stats["usage"] - cache
    return memory


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=50)
    args = parser.parse_args()
    seconds = args.minutes * 60

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        workspace = copy_example_assets(root / "workspace")
        stack = modelpack_stack(root, f"soak{uuid.uuid4().hex[:6]}", workspace)
        print(f"deploying stack {stack.name} ...", flush=True)
        stack.up()
        try:
            outputs = stack.outputs(show_secrets=True)
            url = outputs["endpoints"][ENDPOINT]["scoring_uri"]
            key = outputs["endpoint_keys"][ENDPOINT]["primary"]
            headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
            body = (workspace / "sample-request.json").read_bytes()
            with SteadyLoad(url, body, headers, rate=args.rate) as load:
                time.sleep(min(30, seconds / 10))  # let the replicas settle before sampling
                memory_start = replica_memory(stack.name)
                print(f"load running at {args.rate:g}/s for {args.minutes:g} min", flush=True)
                time.sleep(seconds / 2)
                endpoint = workspace / "endpoint.yml"
                endpoint.write_text(
                    endpoint.read_text()
                    .replace("blue: 80", "blue: 20")
                    .replace("green: 20", "green: 80")
                )
                change = threading.Thread(target=stack.up)
                started = time.monotonic()
                change.start()
                change.join()
                print(f"traffic moved to blue 20 / green 80 in {time.monotonic() - started:.1f} s")
                time.sleep(max(0.0, seconds / 2 - min(30, seconds / 10)))
                memory_end = replica_memory(stack.name)
        finally:
            stack.destroy()

    result = load.result
    latencies = result.latencies_ms
    print(
        f"\nsoak: {args.minutes:g} min at {args.rate:g} requests/s target, traffic change mid-way"
    )
    print(f"requests         {result.total}  ({result.rate:.1f}/s achieved)")
    print(f"failed           {result.failed}  {dict(result.statuses)} {result.errors[:3]}")
    print(f"served by        {dict(result.served_by)}")
    print(
        f"latency ms       p50 {statistics.median(latencies):.2f}  "
        f"p99 {percentile(latencies, 99):.2f}  max {max(latencies):.2f}"
    )
    print(f"{'replica':<10}{'start MiB':>11}{'end MiB':>10}{'growth':>9}")
    for name in sorted(memory_start):
        start, end = memory_start[name], memory_end.get(name, 0)
        print(
            f"{name:<10}{start / 2**20:>11.1f}{end / 2**20:>10.1f}{100 * (end / start - 1):>8.1f}%"
        )


if __name__ == "__main__":
    main()
