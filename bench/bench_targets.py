"""`up` of the example workspace on each target, in one run: Docker (the reference) and
Kubernetes (the local cluster of `make setup`).

    .venv/bin/python bench/bench_targets.py [--rounds 1]

For each target, a throw-away stack deploys assets/example (one endpoint, blue 80 / green 20,
three packages): the first `up` (images come from Docker's layer cache after the first
target, so both targets build alike), a no-op `up`, an `up` after a score.py edit (every
package rebuilt, every deployment rolled), then 500 requests through the endpoint and
`destroy`. Needs `make setup` and `source scripts/env.sh`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.project import copy_example_assets, free_port, modelpack_stack  # noqa: E402

TARGETS = ("docker", "kubernetes")
ENDPOINT = "sklearn-regression-online"


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def latencies_ms(stack, workspace: Path, requests: int) -> list[float]:
    outputs = stack.outputs(show_secrets=True)
    url = outputs["endpoints"][ENDPOINT]["scoring_uri"]
    key = outputs["endpoint_keys"][ENDPOINT]["primary"]
    body = (workspace / "sample-request.json").read_bytes()
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    found = []
    with httpx.Client() as http:
        for _ in range(requests):
            started = time.monotonic()
            answer = http.post(url, content=body, headers=headers)
            found.append((time.monotonic() - started) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"{url} answered {answer.status_code}: {answer.text[:200]}")
    return found


def measure(target: str, root: Path) -> dict[str, float]:
    workspace = copy_example_assets(root / "workspace")
    stack = modelpack_stack(
        root,
        f"bench{target[:3]}{uuid.uuid4().hex[:5]}",
        workspace,
        **{"modelpack:target": target, "modelpack:registryPort": str(free_port())},
    )
    figures = {}
    try:
        figures["first up"] = timed(stack.up)
        figures["no-op up"] = timed(stack.up)
        score = workspace / "src" / "score.py"
        score.write_text(score.read_text().replace('"""Scoring', '"""(bench) Scoring', 1))
        figures["up after a score.py edit"] = timed(stack.up)
        found = latencies_ms(stack, workspace, 500)
        figures["request p50 ms"] = statistics.median(found)
        figures["request p99 ms"] = statistics.quantiles(found, n=100)[98]
    finally:
        figures["destroy"] = timed(stack.destroy)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {target: [] for target in TARGETS}
    for round_ in range(args.rounds):
        for target in TARGETS:
            with tempfile.TemporaryDirectory(prefix=f"bench-{target}-") as folder:
                print(f"round {round_ + 1}: {target} ...", flush=True)
                results[target].append(measure(target, Path(folder)))
    names = list(results[TARGETS[0]][0])
    print(f"\n{'':28}" + "".join(f"{target:>14}" for target in TARGETS))
    for name in names:
        row = [statistics.median(r[name] for r in results[target]) for target in TARGETS]
        unit = "" if name.endswith("ms") else " s"
        print(f"{name:28}" + "".join(f"{value:>12.1f}{unit:2}" for value in row))


if __name__ == "__main__":
    main()
