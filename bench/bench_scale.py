"""The cost of scale: `preview` and no-op `up` time against the number of deployments of one
endpoint (1, 4, 16), on each target, in one run; the slope is the cost of one more deployment.

    .venv/bin/python bench/bench_scale.py [--sizes 1 4 16] [--repeat 3]

One stack per target deploys the example's portable package as N deployments of one replica
each (d0 takes all traffic), growing from the smallest size to the largest; after each `up`,
`preview` and a no-op `up` are timed (median of --repeat). Replicas are small (requests of
20m CPU and 64 MiB, limits of 1 CPU and 512 MiB) so that 16 fit on one node. Needs
`make setup` and `source scripts/env.sh`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.project import (  # noqa: E402
    PORTABLE_PACKAGE,
    copy_portable_assets,
    free_port,
    modelpack_stack,
)

TARGETS = ("docker", "kubernetes")
ENDPOINT = "sklearn-regression-online"
DEPLOYMENT = """\
name: {name}
endpoint_name: {endpoint}
environment: azureml:{package}@latest
instance_type: Standard_F2s_v2
instance_count: 1
readiness_probe: {{initial_delay: 1, period: 1}}
resources:
  requests: {{cpu: 20m, memory: 64Mi}}
  limits: {{cpu: '1', memory: 512Mi}}
"""


def write_deployments(workspace: Path, count: int) -> None:
    for old in workspace.glob("d*.yml"):
        old.unlink()
    for name in ("blue.yml", "green.yml"):
        (workspace / name).unlink(missing_ok=True)
    for index in range(count):
        text = DEPLOYMENT.format(name=f"d{index}", endpoint=ENDPOINT, package=PORTABLE_PACKAGE)
        (workspace / f"d{index}.yml").write_text(text)
    traffic = "".join(f"  d{index}: {100 if index == 0 else 0}\n" for index in range(count))
    (workspace / "endpoint.yml").write_text(
        f"name: {ENDPOINT}\nauth_mode: key\ntraffic:\n{traffic}"
    )


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def slope(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares seconds per deployment."""
    mean_x, mean_y = statistics.mean(sizes), statistics.mean(seconds)
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in zip(sizes, seconds, strict=True))
    return numerator / sum((x - mean_x) ** 2 for x in sizes)


def measure(target: str, root: Path, sizes: list[int], repeat: int) -> dict[int, dict]:
    workspace = copy_portable_assets(root / "workspace")
    stack = modelpack_stack(
        root,
        f"scale{target[:3]}{uuid.uuid4().hex[:5]}",
        workspace,
        **{"modelpack:target": target, "modelpack:registryPort": str(free_port())},
    )
    figures = {}
    try:
        for size in sizes:
            write_deployments(workspace, size)
            grow = timed(stack.up)
            previews = [timed(lambda: stack.run("preview")) for _ in range(repeat)]
            noops = [timed(stack.up) for _ in range(repeat)]
            figures[size] = {
                "up to this size": grow,
                "preview": statistics.median(previews),
                "no-op up": statistics.median(noops),
            }
            print(f"  {target}, {size} deployments: {figures[size]}", flush=True)
    finally:
        stack.destroy()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for target in TARGETS:
        with tempfile.TemporaryDirectory(prefix=f"bench-scale-{target}-") as folder:
            print(f"{target} ...", flush=True)
            results[target] = measure(target, Path(folder), args.sizes, args.repeat)
    header = "".join(f"{t + ' preview':>22}{t + ' no-op up':>22}" for t in TARGETS)
    print(f"\n{'deployments':>12}{header}")
    for size in args.sizes:
        cells = "".join(
            f"{results[t][size]['preview']:>20.1f} s{results[t][size]['no-op up']:>20.1f} s"
            for t in TARGETS
        )
        print(f"{size:>12}{cells}")
    for target in TARGETS:
        for what in ("preview", "no-op up"):
            per = slope(args.sizes, [results[target][size][what] for size in args.sizes])
            print(f"{target} {what}: {per * 1000:.0f} ms per deployment")


if __name__ == "__main__":
    main()
