"""Package build times and image sizes: a cold first `pulumi up` of the example workspace, the
rebuild after a score.py-only edit, a warm first `up` of a second stack, and the sizes of the
base, environment and package images, in one run.

    .venv/bin/python bench/bench_packages.py

Deploys the example workspace's packages only (endpoint and deployments left out) into
throw-away stacks and destroys them at the end. To make the first build really cold without
pruning the shared builder cache, the run adds a requirement no other build has
(``threadpoolctl!=0.0.<run id>``: scikit-learn's own dependency, so nothing extra is
installed), so the environment's dependency layer and every layer above it are built from
scratch and every wheel is downloaded from PyPI (pip runs with --no-cache-dir; no cache mounts).
Needs `make setup` and `source scripts/env.sh`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.project import copy_example_assets, modelpack_stack  # noqa: E402

BASE_IMAGE = "python:3.11-slim"
PACKAGES = {
    "sklearn-regression-online-pkg": "package, readonly_mount (package-moe.yml)",
    "sklearn-regression-docker-pkg": "package, copy (package-azure-app.yml)",
}
BUILT = re.compile(r"built (\S+) \((\w+)\) in ([\d.]+) s")


def timed_up(stack) -> tuple[float, dict[str, float]]:
    """Wall time of `pulumi up`, and the build time of each image it built (by tag kind)."""
    started = time.monotonic()
    result = stack.up()
    seconds = time.monotonic() - started
    builds = {}
    for tag, _, took in BUILT.findall(result.stdout):
        kind, name = tag.split("/")[2:4]
        builds[f"{kind}/{name.split(':')[0]}"] = float(took)
    return seconds, builds


def size_mb(client: docker.DockerClient, image: str) -> float:
    return client.api.inspect_image(image)["Size"] / 1e6


def make_workspace(root: Path, run_id: str | None) -> Path:
    workspace = copy_example_assets(root / "workspace")
    for name in ("endpoint.yml", "blue.yml", "green.yml"):
        (workspace / name).unlink()
    if run_id is not None:
        conda = workspace / "environment" / "conda.yaml"
        conda.write_text(conda.read_text() + f"  - pip:\n    - threadpoolctl!=0.0.{run_id}\n")
    return workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep-warm", action="store_true", help="skip the unique requirement (measure warm)"
    )
    args = parser.parse_args()
    client = docker.from_env()
    run_id = None if args.keep_warm else str(int(time.time()))
    root = Path(tempfile.mkdtemp(prefix="bench-packages-"))
    stacks = []
    try:
        workspace = make_workspace(root / "a", run_id)
        stack = modelpack_stack(root / "a", f"bpk{uuid.uuid4().hex[:6]}", workspace)
        stacks.append(stack)
        cold, cold_builds = timed_up(stack)

        score = workspace / "src" / "score.py"
        score.write_text(score.read_text() + "\n# benchmark edit: score.py only\n")
        rebuild, rebuild_builds = timed_up(stack)
        outputs = stack.outputs()

        # The same content in a second, fresh stack: every layer is in the builder cache.
        second = modelpack_stack(root / "b", f"bpk{uuid.uuid4().hex[:6]}", workspace)
        stacks.append(second)
        warm, warm_builds = timed_up(second)

        env_tag = next(
            tag
            for image in client.images.list()
            for tag in image.tags
            if tag.startswith(f"modelpack/{stack.name}/env/")
        )
        sizes = [(f"{BASE_IMAGE} (base image)", size_mb(client, BASE_IMAGE))]
        sizes.append(("environment image (base + conda deps)", size_mb(client, env_tag)))
        for name, label in PACKAGES.items():
            sizes.append((label, size_mb(client, outputs["packages"][name]["image"])))
    finally:
        for each in stacks:
            each.destroy()
        shutil.rmtree(root, ignore_errors=True)

    def builds(times: dict[str, float]) -> str:
        return ", ".join(f"{k.split('/')[0]} {v:.1f}s" for k, v in sorted(times.items()))

    cold_note = (
        "unique requirement set: env deps + server deps pip-installed from PyPI, "
        "no pip cache; venv and pip-upgrade layers cached"
        if run_id
        else "--keep-warm: builder cache may hold every layer"
    )
    rows = [
        ("cold build: first `pulumi up`, fresh stack", f"{cold:.1f} s", cold_note),
        ("", "", f"images: {builds(cold_builds)}"),
        (
            "rebuild after a score.py-only edit",
            f"{rebuild:.1f} s",
            f"{100 * rebuild / cold:.1f}% of cold (target < 10%); images: {builds(rebuild_builds)}",
        ),
        (
            "warm build: first `up` of a 2nd stack",
            f"{warm:.1f} s",
            f"every layer cached; images: {builds(warm_builds)}",
        ),
    ]
    base = sizes[0][1]
    env = sizes[1][1]
    for label, mb in sizes:
        if label.startswith(BASE_IMAGE):
            note = ""
        elif label.startswith("environment"):
            note = f"+{mb - base:.0f} MB over the base"
        else:
            note = f"+{mb - env:.0f} MB over the environment (server deps, server, model, code)"
        rows.append((label, f"{mb:.0f} MB", note))

    print(
        "command: .venv/bin/python bench/bench_packages.py"
        + (" --keep-warm" if args.keep_warm else "")
    )
    print(f"workspace: assets/example (packages only); host: {_host()}")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>9}  note")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 40}")
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>9}  {note}")


def _host() -> str:
    import os

    return f"{os.cpu_count()} CPUs (shared)"


if __name__ == "__main__":
    main()
