"""Router overhead: the same load sent through the endpoint's nginx router and straight to
the one replica behind it, in one run.

    .venv/bin/python bench/bench_router.py [--seconds 10] [--connections 16]

Deploys the example workspace (blue only, one replica, 100% traffic) into a throw-away stack,
runs wrk against both targets one after the other, prints a table and destroys the stack.
Needs `make setup` (Pulumi, Docker, wrk) and `source scripts/env.sh`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.project import copy_example_assets, modelpack_stack  # noqa: E402

ENDPOINT = "sklearn-regression-online"
BATCH_ROWS = 500
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, body: str, headers: dict[str, str], seconds: int, connections: int) -> dict:
    lines = ["wrk.method = 'POST'", f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    percentiles = {}
    latency_line = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)$", re.M)
    for pct, value, unit in latency_line.findall(output):
        percentiles[pct] = float(value) * UNITS_MS[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rps,
        "p50": percentiles.get("50"),
        "p99": percentiles.get("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="per target; the median is kept")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--instance-type",
        default="Standard_DS1_v2",
        help="the replica's size (default: 1 vCPU, leaving the router a core of its own, as "
        "routers and replicas do not share cores in a real deployment)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        workspace = copy_example_assets(root / "workspace")
        (workspace / "green.yml").unlink()
        # Measure the router, not queueing: Azure's default of 1 request at a time per
        # instance would make every figure a queueing figure.
        blue = workspace / "blue.yml"
        blue.write_text(
            blue.read_text().replace("Standard_DS3_v2", args.instance_type)
            + "request_settings:\n  max_concurrent_requests_per_instance: 64\n"
        )
        (workspace / "endpoint.yml").write_text(
            f"name: {ENDPOINT}\nauth_mode: key\ntraffic:\n  blue: 100\n"
        )
        stack = modelpack_stack(root, f"bench{uuid.uuid4().hex[:6]}", workspace)
        print(f"deploying stack {stack.name} ...", flush=True)
        stack.up()
        try:
            outputs = stack.outputs(show_secrets=True)
            endpoint = outputs["endpoints"][ENDPOINT]
            key = outputs["endpoint_keys"][ENDPOINT]["primary"]
            replica_name = endpoint["deployments"]["blue"]["replicas"][0]
            replica = docker.from_env().containers.get(replica_name)
            address = next(iter(replica.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
            sample = json.loads((workspace / "sample-request.json").read_text())
            bodies = {
                "2 rows": json.dumps(sample),
                f"{BATCH_ROWS} rows": json.dumps({"data": sample["data"] * (BATCH_ROWS // 2)}),
            }
            json_headers = {"Content-Type": "application/json"}
            targets = [
                ("direct to the replica", f"http://{address}:5001/score", json_headers),
                (
                    "through the router",
                    endpoint["scoring_uri"],
                    {**json_headers, "Authorization": f"Bearer {key}"},
                ),
            ]
            results = []
            for size, body in bodies.items():
                for _, url, headers in targets:
                    wrk(url, body, headers, 2, args.connections)  # warm-up
                # Alternate the targets round by round and keep each one's median round, so
                # that a passing disturbance on this shared machine does not decide the figure.
                rounds: dict[str, list[dict]] = {label: [] for label, _, _ in targets}
                for _ in range(args.rounds):
                    for label, url, headers in targets:
                        rounds[label].append(
                            wrk(url, body, headers, args.seconds, args.connections)
                        )
                for label, measured in rounds.items():
                    median = sorted(measured, key=lambda r: r["rps"])[len(measured) // 2]
                    results.append((size, label, median))
        finally:
            stack.destroy()

    load = f"wrk -t2 -c{args.connections} -d{args.seconds}s, median of {args.rounds} rounds"
    print(f"\n{load}, one {args.instance_type} replica")
    print(
        f"{'request':<10}{'target':<24}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
    )
    for size, label, r in results:
        print(
            f"{size:<10}{label:<24}{r['rps']:>12.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
            f"{r['non_2xx']:>9}"
        )
    for size in dict.fromkeys(size for size, _, _ in results):
        direct, routed = (r["rps"] for s, _, r in results if s == size)
        print(f"router cost, {size}: {100 * (1 - routed / direct):.1f}% of throughput")
    print("(target: < 10%)")


if __name__ == "__main__":
    main()
