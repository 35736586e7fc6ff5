"""The main job (`make run`): package and deploy the example workspace into workspace dev, then
call its endpoint with the sample request, through the traffic split and once per deployment.

    python -m modelpack.cli.main_job [--workspace dev]

Steps: train the example model if assets/example/model/ has none, `up` the workspace (the
stack is created on first use), then invoke every endpoint of the stack with
assets/example/sample-request.json. Exits non-zero, with what to do next, on any failure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..interrupts import stop_on_interrupt
from .endpoints import InvokeResult, invoke, read_request_file, require_success
from .errors import CliError, report
from .outputs import EndpointOutputs, load_outputs, open_runtime
from .pulumi_runner import PulumiRunner
from .workspaces import project_root, resolve_workspace

# `make run` runs this from the project's checkout.
ROOT = project_root()
EXAMPLE = ROOT / "assets" / "example"
MODEL_FILE = EXAMPLE / "model" / "sklearn_regression_model.pkl"
TRAIN_SCRIPT = EXAMPLE / "train.py"
SAMPLE_REQUEST = EXAMPLE / "sample-request.json"
STEPS = 4


@contextmanager
def step(number: int, title: str) -> Iterator[None]:
    print(f"\n==> [{number}/{STEPS}] {title}", flush=True)
    started = time.monotonic()
    try:
        yield
    except BaseException:
        print(f"    step {number} failed after {time.monotonic() - started:.1f} s", flush=True)
        raise
    print(f"    done in {time.monotonic() - started:.1f} s", flush=True)


def ensure_model(model_file: Path = MODEL_FILE, train_script: Path = TRAIN_SCRIPT) -> bool:
    """Train the example model when its file is missing; True when it trained."""
    if model_file.exists():
        print(f"    {model_file.relative_to(ROOT)} is present")
        return False
    print(f"    {model_file.relative_to(ROOT)} is missing: running {train_script.name}")
    trained = subprocess.run([sys.executable, str(train_script)], cwd=train_script.parent)
    if trained.returncode != 0 or not model_file.exists():
        raise CliError(
            f"{train_script} failed (exit {trained.returncode})",
            f"run `python {train_script.relative_to(ROOT)}` and read its error "
            "(it needs scikit-learn from the test extras: `make setup`)",
        )
    return True


def describe(result: InvokeResult) -> str:
    return f"{result.status} from {result.deployment or '<no deployment header>'}: {result.body}"


def call_endpoint(endpoint: EndpointOutputs, body: bytes, workspace: str) -> list[str]:
    """Invoke through the split, then once per deployment; the problems found (none: [])."""
    problems = []
    result = require_success(invoke(endpoint, body, workspace), endpoint, workspace, None)
    print(f"    {endpoint.name} (traffic split {endpoint.traffic}): {describe(result)}")
    for deployment in sorted(endpoint.deployments):
        result = invoke(endpoint, body, workspace, deployment=deployment)
        require_success(result, endpoint, workspace, deployment)
        print(f"    {endpoint.name} asking for {deployment}: {describe(result)}")
        if result.deployment != deployment:
            problems.append(
                f"asked {endpoint.name} for deployment {deployment} but "
                f"{result.deployment or 'nothing'} answered"
            )
    return problems


def run(workspace_name: str = "dev", request_file: Path = SAMPLE_REQUEST) -> int:
    runner = PulumiRunner(resolve_workspace(workspace_name))
    with step(1, "example model"):
        ensure_model()
    with step(2, f"pulumi up, workspace {workspace_name}"):
        # A clear message now rather than a provider error in the middle of up.
        open_runtime(runner.target())
        runner.lifecycle("up")
    with step(3, "stack outputs"):
        outputs = load_outputs(runner, show_secrets=True)
        if not outputs.endpoints:
            raise CliError(
                f"workspace '{workspace_name}' deployed no endpoint",
                f"check modelpack:assets in {runner.workspace.stack_config_file}",
            )
        for name, endpoint in sorted(outputs.endpoints.items()):
            print(f"    {name}: {endpoint.scoring_uri} deployments {sorted(endpoint.deployments)}")
    with step(4, f"invoke with {request_file.relative_to(ROOT)}"):
        body = read_request_file(request_file)
        problems = []
        for endpoint in outputs.endpoints.values():
            problems += call_endpoint(endpoint, body, workspace_name)
    if problems:
        raise CliError(
            "; ".join(problems),
            f"`modelpack list --workspace {workspace_name}` shows the router and replicas",
        )
    print(
        f"\nworkspace '{workspace_name}' is deployed and answering. Next:\n"
        f"  modelpack list --workspace {workspace_name}\n"
        f"  modelpack invoke --workspace {workspace_name} --name <endpoint> "
        f"--request-file {request_file.relative_to(ROOT)}\n"
        f"  modelpack destroy --workspace {workspace_name}   # removes everything"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    stop_on_interrupt()
    parser = argparse.ArgumentParser(prog="python -m modelpack.cli.main_job", description=__doc__)
    parser.add_argument("-w", "--workspace", default="dev")
    args = parser.parse_args(argv)
    try:
        return run(args.workspace)
    except CliError as error:
        print(file=sys.stderr)
        return report(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
