"""The same workspace's lifecycle against the default file backend and an `azblob://` backend on
Azurite (started and stopped here), in one run.

    .venv/bin/python bench/bench_backends.py [--rounds 2]

For each backend, a copy of the checkout deploys the small endpoint workspace
(tests/support/small_workspace.py) with `modelpack`: the first `up` (stack created), a
`preview` with nothing to change, a no-op `up`, an `invoke`, and `destroy --remove-stack`.
Rounds alternate which backend goes first (the first `up` of a run warms Docker's layer
cache for both). Needs `make setup` and `source scripts/env.sh`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from modelpack.cli.workspaces import backend_env_var, passphrase_env_var  # noqa: E402
from tests.support.azurite import Azurite, running_azurite  # noqa: E402
from tests.support.clones import ASSETS, clean_env, small_clone  # noqa: E402
from tests.support.project import free_port  # noqa: E402
from tests.support.small_workspace import ENDPOINT  # noqa: E402

BACKENDS = ("file", "azblob")
STEPS = ("first up", "preview (no changes)", "no-op up", "invoke", "destroy")


def measure(backend: str, root: Path, azurite: Azurite) -> dict[str, float]:
    ws = f"bench{backend[:2]}{uuid.uuid4().hex[:5]}"
    env = {passphrase_env_var(ws): uuid.uuid4().hex}
    if backend == "azblob":
        env |= {**azurite.env, backend_env_var(ws): azurite.create_container(f"state-{ws}")}
    stack_file = (
        "config:\n"
        f"  modelpack:assets: {ASSETS}\n"
        '  modelpack:routerPort: "0"\n'
        f'  modelpack:registryPort: "{free_port()}"\n'
    )
    clone = small_clone(root / ws, backend, ws, stack_file, clean_env(env))
    request = str(clone.root / ASSETS / "request.json")
    figures: dict[str, float] = {}
    try:
        figures["first up"] = clone.ok("up", "-w", ws)[1]
        figures["preview (no changes)"] = clone.ok(
            "preview", "-w", ws, "--", "--expect-no-changes"
        )[1]
        figures["no-op up"] = clone.ok("up", "-w", ws)[1]
        figures["invoke"] = clone.ok("invoke", "-w", ws, "-n", ENDPOINT, "-r", request)[1]
    finally:
        figures["destroy"] = clone.ok("destroy", "-w", ws, "--remove-stack")[1]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    found: dict[str, list[dict[str, float]]] = {backend: [] for backend in BACKENDS}
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as folder:
        root = Path(folder)
        with running_azurite(root / "azurite") as azurite:
            for index in range(args.rounds):
                order = BACKENDS if index % 2 == 0 else tuple(reversed(BACKENDS))
                for backend in order:
                    found[backend].append(measure(backend, root, azurite))
    print(f"\nmedian of {args.rounds} round(s), seconds (modelpack wall time)\n")
    print("| step | " + " | ".join(BACKENDS) + " |")
    print("|---|" + "---:|" * len(BACKENDS))
    for step in STEPS:
        cells = [statistics.median(r[step] for r in found[b]) for b in BACKENDS]
        print(f"| {step} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    for backend in BACKENDS:
        rows = ", ".join(
            f"{r['first up']:.1f}/{r['preview (no changes)']:.1f}" for r in found[backend]
        )
        print(f"{backend}: first up / preview per round: {rows}")


if __name__ == "__main__":
    main()
