"""Declarative model packages through the real path: `pulumi up` of package-only workspaces
builds the images; running an image and POSTing to it answers what the model itself
predicts. Also: what `pulumi preview --diff` names after an edit, and the checks that stop
a preview before anything is built.

Three stacks, each deployed once for the module: the example workspace (scikit-learn model,
conda file, score.py; a readonly_mount and a copy package), an MLflow model packaged with no
score.py and no environment, and a custom (TF Serving style) server image.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.types
import joblib
import numpy
import pytest

from tests.support.deployed import image_tags
from tests.support.mlflow_venv import mlflow_python
from tests.support.project import EXAMPLE_ASSETS, copy_example_assets, modelpack_stack
from tests.support.pulumi_cli import Stack

pytestmark = pytest.mark.real

MODEL_NAME = "sklearn-regression"
MOE = "sklearn-regression-online-pkg"  # package-moe.yml: readonly_mount
PORTABLE = "sklearn-regression-docker-pkg"  # package-azure-app.yml: copy
DIABETES_COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
MLFLOW_PINS = ["scikit-learn==1.9.1", "numpy==2.4.6", "pandas==3.1.1", "mlflow-skinny==3.17.2"]


def short_id() -> str:
    return uuid.uuid4().hex[:6]


def engine() -> docker.DockerClient:
    return docker.from_env()


# -- workspaces and stacks -------------------------------------------------------------------


def package_workspace(destination: Path) -> Path:
    """The example workspace without its endpoint and deployments: packages only."""
    workspace = copy_example_assets(destination)
    for name in ("endpoint.yml", "blue.yml", "green.yml"):
        (workspace / name).unlink()
    return workspace


def sample_rows(workspace: Path) -> list[list[float]]:
    return json.loads((workspace / "sample-request.json").read_text())["data"]


def expected_predictions(model_file: Path, rows: list[list[float]]) -> list[float]:
    """Calling the model directly: joblib load + predict."""
    with warnings.catch_warnings():  # an MLflow model was fitted on named columns
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        return joblib.load(model_file).predict(numpy.array(rows)).tolist()


def stack_images(stack: str) -> list[str]:
    """Tags of images this stack built (every image is tagged modelpack/<stack>/...)."""
    prefix = f"modelpack/{stack}/"
    return [tag for tag in image_tags() if tag.startswith(prefix)]


def stack_containers(stack: str) -> list:
    return engine().containers.list(all=True, filters={"label": f"modelpack.stack={stack}"})


def exported_resources(stack: Stack) -> list[str]:
    state = json.loads(stack.run("stack", "export").stdout)
    return [r["type"] for r in state.get("deployment", {}).get("resources") or []]


@contextlib.contextmanager
def deployed_stack(root: Path, workspace: Path) -> Iterator[Stack]:
    stack = modelpack_stack(root, f"pkg{short_id()}", workspace)
    try:
        stack.up()
        yield stack
    finally:
        stack.destroy()
        assert stack_images(stack.name) == []
        assert stack_containers(stack.name) == []


# -- running a package image -------------------------------------------------------------------


def image_env(image: str) -> dict[str, str]:
    env = engine().api.inspect_image(image)["Config"]["Env"] or []
    return dict(item.split("=", 1) for item in env)


def http(method: str, url: str, body: object | None = None, timeout: float = 10):
    """(status, parsed JSON or text) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


@contextlib.contextmanager
def running(
    image: str,
    port: int,
    ready_path: str,
    *,
    stack: str,
    mounts: list[docker.types.Mount] | None = None,
    timeout: float = 90,
) -> Iterator[str]:
    """Run `image` with `port` published on loopback; yields its base URL once `ready_path`
    answers 200. The container is labelled with the stack, so teardown checks see leftovers."""
    container = engine().containers.run(
        image,
        detach=True,
        ports={f"{port}/tcp": ("127.0.0.1", None)},
        mounts=mounts or [],
        labels={"modelpack.stack": stack, "modelpack.role": "test-run"},
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            container.reload()
            bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{port}/tcp")
            if container.status == "exited":
                raise AssertionError(f"{image} exited:\n{container.logs().decode()[-3000:]}")
            if bindings:
                url = f"http://127.0.0.1:{bindings[0]['HostPort']}"
                with contextlib.suppress(OSError):
                    if http("GET", url + ready_path, timeout=2)[0] == 200:
                        break
            if time.monotonic() > deadline:
                raise AssertionError(f"{image} not ready:\n{container.logs().decode()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        container.remove(force=True)


def model_mount(stack_root: Path, image: str, version: str) -> docker.types.Mount:
    """The registered version folder, read-only at the image's AZUREML_MODEL_DIR: what a
    Deployment gives a readonly_mount package."""
    source = stack_root / "state" / "models" / MODEL_NAME / version
    assert (source / "model" / "sklearn_regression_model.pkl").is_file()
    target = image_env(image)["AZUREML_MODEL_DIR"]
    return docker.types.Mount(target, str(source), type="bind", read_only=True)


# -- the example workspace ------------------------------------------------------------------------


class Example:
    def __init__(self, root: Path, workspace: Path, stack: Stack) -> None:
        self.root, self.workspace, self.stack = root, workspace, stack
        self.outputs = stack.outputs()

    @property
    def expected(self) -> list[float]:
        model = self.workspace / "model" / "sklearn_regression_model.pkl"
        return expected_predictions(model, sample_rows(self.workspace))

    @contextlib.contextmanager
    def edited(self, name: str, old: str, new: str) -> Iterator[None]:
        path = self.workspace / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))
        try:
            yield
        finally:
            path.write_text(text)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    root = tmp_path_factory.mktemp("example")
    workspace = package_workspace(root / "workspace")
    with deployed_stack(root, workspace) as stack:
        yield Example(root, workspace, stack)


def test_up_builds_both_packages_of_the_example(example: Example) -> None:
    packages = example.outputs["packages"]
    assert set(packages) == {MOE, PORTABLE}
    assert example.outputs["models"] == {f"{MODEL_NAME}:auto": "1"}
    for name, package in packages.items():
        labels = engine().api.inspect_image(package["image"])["Config"]["Labels"]
        assert labels["modelpack.package.name"] == name
        assert labels["modelpack.code.hash"] == package["hashes"]["code"]
        assert labels["modelpack.model.hash"] == package["hashes"]["model"]
        assert package["tag"].startswith(f"modelpack/{example.stack.name}/pkg/{name}:")
        assert labels["modelpack.model.mode"] == ("copy" if name == PORTABLE else "readonly_mount")


def test_no_change_gives_no_diff(example: Example) -> None:
    result = example.stack.run("preview", "--diff", "--expect-no-changes", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readonly_mount_package_answers_like_the_model(example: Example) -> None:
    image = example.outputs["packages"][MOE]["image"]
    mount = model_mount(example.root, image, version="1")
    with running(image, 5001, "/readyz", stack=example.stack.name, mounts=[mount]) as url:
        status, answer = http("POST", url + "/score", {"data": sample_rows(example.workspace)})
    assert status == 200, answer
    assert answer == pytest.approx(example.expected, abs=1e-6)


def test_copy_package_is_portable(example: Example) -> None:
    """No mounts at all: the model and the code are inside the image."""
    image = example.outputs["packages"][PORTABLE]["image"]
    env = image_env(image)
    assert env["AZUREML_MODEL_DIR"] == f"/var/azureml-app/azureml-models/{MODEL_NAME}/1"
    with running(image, 5001, "/readyz", stack=example.stack.name) as url:
        status, answer = http("POST", url + "/score", {"data": sample_rows(example.workspace)})
        swagger_status, _ = http("GET", url + "/swagger.json")
    assert status == 200, answer
    assert answer == pytest.approx(example.expected, abs=1e-6)
    assert swagger_status == 200


def preview_changes(stack: Stack) -> dict[str, tuple[str, list[str]]]:
    """resource name -> (operation, reasons) of every step `pulumi preview` would take."""
    steps = json.loads(stack.run("preview", "--json").stdout)["steps"]
    return {
        step["urn"].split("::")[-1]: (
            step["op"],
            sorted(step.get("replaceReasons") or step.get("diffReasons") or []),
        )
        for step in steps
        if step["op"] != "same"
    }


def test_score_edit_previews_as_a_code_hash_change(example: Example) -> None:
    with example.edited("src/score.py", '    """Predict', '    # edited\n    """Predict'):
        changes = preview_changes(example.stack)
        diff = example.stack.run("preview", "--diff").stdout
    # both packages are rebuilt because of their code hash (from a new build folder: they are
    # named by content) and pushed to the workspace's registry again; nothing else is touched
    assert changes == {
        **{
            f"{name}-image": ("replace", ["context", "hashes", "hashes.code", "labels", "tag"])
            for name in (MOE, PORTABLE)
        },
        **{f"{name}-push": ("replace", ["image_id", "tag"]) for name in (MOE, PORTABLE)},
    }, changes
    hash_lines = [line.split() for line in diff.splitlines() if "=>" in line]
    assert {words[1] for words in hash_lines if words[0] == "~"} == {
        "context",
        "code",
        "modelpack.code.hash",
        "tag",
        "image_id",  # of the push: the new image's id is known once it is built
    }, diff


def test_conda_edit_previews_as_an_environment_change(example: Example) -> None:
    with example.edited("environment/conda.yaml", "  - scipy=1.17.1\n", "  - scipy=1.17.0\n"):
        changes = preview_changes(example.stack)
    env_op, env_reasons = changes.pop("sklearn-regression-env-image")
    assert env_op == "replace" and "hashes.environment" in env_reasons, env_reasons
    pushes = {name: changes.pop(name) for name in (f"{MOE}-push", f"{PORTABLE}-push")}
    assert all(op == "replace" and "image_id" in why for op, why in pushes.values()), pushes
    assert set(changes) == {f"{MOE}-image", f"{PORTABLE}-image"}, changes
    for op, reasons in changes.values():
        # the package is rebuilt on the new environment image; its code did not change
        assert op == "replace" and "hashes.environment" in reasons, reasons
        assert "hashes.code" not in reasons and "hashes.model" not in reasons, reasons


# -- an MLflow model: no score.py, no environment ---------------------------------------------

MLFLOW_SCRIPT = """
import sys, warnings
warnings.filterwarnings("ignore")
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
import mlflow.sklearn
from mlflow.models import infer_signature
features, target = load_diabetes(return_X_y=True, as_frame=True)
model = Ridge(alpha=0.3).fit(features, target)
mlflow.sklearn.save_model(
    model, sys.argv[1], serialization_format="pickle",
    signature=infer_signature(features.head(), model.predict(features.head())),
    pip_requirements=sys.argv[2:],
)
"""


def write_mlflow_workspace(root: Path) -> Path:
    workspace = root / "workspace"
    workspace.mkdir()
    subprocess.run(
        [
            str(mlflow_python()),
            "-c",
            MLFLOW_SCRIPT,
            str(workspace / "sklearn-mlflow"),
            *MLFLOW_PINS,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (workspace / "model.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        "name: sklearn-mlflow\npath: sklearn-mlflow\ntype: mlflow_model\n"
    )
    for name, mode in (("mlflow-pkg", "readonly_mount"), ("mlflow-portable-pkg", "copy")):
        (workspace / f"package-{name}.yml").write_text(
            "$schema: http://azureml/sdk-2-0/ModelVersionPackage.json\n"
            f"target_environment_name: {name}\n"
            "inferencing_server:\n  type: azureml_online\n"
            f"model_configuration:\n  mode: {mode}\n"
        )
    return workspace


class Mlflow:
    def __init__(self, root: Path, workspace: Path, stack: Stack) -> None:
        self.root, self.workspace, self.stack = root, workspace, stack
        self.outputs = stack.outputs()
        self.rows = sample_rows(EXAMPLE_ASSETS)
        self.expected = expected_predictions(workspace / "sklearn-mlflow" / "model.pkl", self.rows)


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mlflow]:
    root = tmp_path_factory.mktemp("mlflow")
    workspace = write_mlflow_workspace(root)
    with deployed_stack(root, workspace) as stack:
        yield Mlflow(root, workspace, stack)


def test_mlflow_environment_comes_from_the_model(mlflow: Mlflow) -> None:
    requirements = (mlflow.workspace / "sklearn-mlflow" / "requirements.txt").read_text().split()
    assert requirements == MLFLOW_PINS
    package = mlflow.outputs["packages"]["mlflow-portable-pkg"]
    assert "code" not in package["hashes"]
    env = image_env(package["image"])
    assert "AZUREML_ENTRY_SCRIPT" not in env
    run = engine().containers.run
    probe = run(package["image"], ["pip", "freeze"], entrypoint=[], remove=True).decode()
    for pin in MLFLOW_PINS:
        assert pin.lower() in probe.lower(), probe


@pytest.mark.parametrize("package", ["mlflow-portable-pkg", "mlflow-pkg"])
def test_mlflow_package_answers_like_the_model(mlflow: Mlflow, package: str) -> None:
    image = mlflow.outputs["packages"][package]["image"]
    mounts = []
    if package == "mlflow-pkg":  # readonly_mount: the registered version folder
        version = mlflow.outputs["models"]["sklearn-mlflow:auto"]
        source = mlflow.root / "state" / "models" / "sklearn-mlflow" / version
        target = image_env(image)["AZUREML_MODEL_DIR"]
        mounts = [docker.types.Mount(target, str(source), type="bind", read_only=True)]
    split = {"columns": DIABETES_COLUMNS, "data": mlflow.rows}
    with running(image, 5001, "/readyz", stack=mlflow.stack.name, mounts=mounts) as url:
        azureml = http("POST", url + "/score", {"input_data": split})
        native = http("POST", url + "/score", {"dataframe_split": split})
    assert azureml[0] == 200, azureml
    assert azureml[1] == pytest.approx(mlflow.expected, abs=1e-6)
    assert native[0] == 200, native
    assert native[1]["predictions"] == pytest.approx(mlflow.expected, abs=1e-6)


# -- a custom server (TF Serving style) -------------------------------------------------------

SERVER = '''
"""A tiny model server in the style of TF Serving: GET /v1/models/m (readiness),
POST /v1/models/m:predict {"instances": [[...], ...]} -> {"predictions": [...]}."""
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

with open(os.environ["MODEL_PATH"]) as f:
    MODEL = json.load(f)

class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models/m":
            self.reply(200, {"model_version_status": [{"state": "AVAILABLE"}]})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/v1/models/m:predict":
            return self.reply(404, {"error": "not found"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        rows = body["instances"]
        predictions = [
            sum(c * x for c, x in zip(MODEL["coef"], row)) + MODEL["intercept"] for row in rows
        ]
        self.reply(200, {"predictions": predictions})

ThreadingHTTPServer(("0.0.0.0", 8501), Handler).serve_forever()
'''


class Custom:
    def __init__(self, workspace: Path, stack: Stack) -> None:
        self.workspace, self.stack = workspace, stack
        self.outputs = stack.outputs()


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Custom]:
    root = tmp_path_factory.mktemp("custom")
    context = root / "server"
    context.mkdir()
    (context / "server.py").write_text(SERVER)
    (context / "Dockerfile").write_text(
        "FROM python:3.11-slim\nCOPY server.py /srv/server.py\nEXPOSE 8501\n"
        'CMD ["python3", "/srv/server.py"]\n'
    )
    server_image = f"modelpack-test/linear-server:{short_id()}"
    engine().images.build(path=str(context), tag=server_image, pull=False, rm=True)
    try:
        # The model: the example's trained regression, exported as coefficients.
        example = copy_example_assets(root / "example")
        trained = joblib.load(example / "model" / "sklearn_regression_model.pkl")
        workspace = root / "workspace"
        workspace.mkdir()
        (workspace / "linear.json").write_text(
            json.dumps({"coef": trained.coef_.tolist(), "intercept": float(trained.intercept_)})
        )
        (workspace / "model.yml").write_text("name: linear\npath: linear.json\n")
        (workspace / "environment.yml").write_text(
            f"name: linear-server-env\nimage: {server_image}\n"
        )
        (workspace / "package.yml").write_text(
            "$schema: http://azureml/sdk-2-0/ModelVersionPackage.json\n"
            "target_environment_name: linear-tfserving-pkg\n"
            "base_environment_source:\n  type: environment_asset\n"
            "  resource_id: azureml:linear-server-env@latest\n"
            "inferencing_server:\n"
            "  type: custom\n"
            "  inference_configuration:\n"
            "    scoring_route: {port: 8501, path: '/v1/models/m:predict'}\n"
            "    liveness_route: {port: 8501, path: /v1/models/m}\n"
            "    readiness_route: {port: 8501, path: /v1/models/m}\n"
            "model_configuration:\n  mode: copy\n  mount_path: /models\n"
            "environment_variables:\n  MODEL_PATH: /models/linear.json\n"
        )
        with deployed_stack(root, workspace) as stack:
            yield Custom(example, stack)
    finally:
        engine().images.remove(server_image, force=True)


def test_custom_server_package_answers_like_the_model(custom: Custom) -> None:
    package = custom.outputs["packages"]["linear-tfserving-pkg"]
    assert set(package["hashes"]) == {"model", "environment", "model_version"}
    image = package["image"]
    labels = engine().api.inspect_image(image)["Config"]["Labels"]
    assert labels["modelpack.server.type"] == "custom"
    rows = sample_rows(custom.workspace)
    with running(image, 8501, "/v1/models/m", stack=custom.stack.name) as url:
        status, answer = http("POST", url + "/v1/models/m:predict", {"instances": rows})
    assert status == 200, answer
    model = custom.workspace / "model" / "sklearn_regression_model.pkl"
    assert answer["predictions"] == pytest.approx(expected_predictions(model, rows), abs=1e-6)


# -- checks before anything is built ----------------------------------------------------------


def break_entry_script(workspace: Path) -> None:
    (workspace / "src" / "score.py").write_text("def predict(data):\n    return data\n")


def break_code_folder(workspace: Path) -> None:
    path = workspace / "package-moe.yml"
    path.write_text(path.read_text().replace("code: src", "code: no-such-src"))


def break_model_path(workspace: Path) -> None:
    path = workspace / "model.yml"
    path.write_text(path.read_text().replace("path: model", "path: no-such-model"))


def break_reference(workspace: Path) -> None:
    path = workspace / "package-azure-app.yml"
    path.write_text(path.read_text().replace("sklearn-regression-env@latest", "no-such-env@latest"))


def break_mode(workspace: Path) -> None:
    path = workspace / "package-azure-app.yml"
    path.write_text(path.read_text().replace("mode: copy", "mode: bake"))


def break_python(workspace: Path) -> None:
    path = workspace / "environment" / "conda.yaml"
    path.write_text(path.read_text().replace("python=3.11", "python=3.9"))


CHECKS = {
    # case: (break, file named, field named, words of the message)
    "entry-script": (
        break_entry_script,
        "package-moe.yml",
        "inferencing_server.code_configuration.entry_script",
        "must define init() and run()",
    ),
    "code-folder": (
        break_code_folder,
        "package-moe.yml",
        "inferencing_server.code_configuration.code",
        "'no-such-src' does not exist",
    ),
    "model-path": (break_model_path, "model.yml", "path", "'no-such-model' does not exist"),
    "reference": (
        break_reference,
        "package-azure-app.yml",
        "base_environment_source.resource_id",
        "unknown environment or package 'no-such-env'",
    ),
    "mode": (break_mode, "package-azure-app.yml", "model_configuration.mode", "bake"),
    "python": (
        break_python,
        "conda.yaml",
        "dependencies",
        "python=3.9 does not match the base image 'python:3.11-slim'",
    ),
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Stack]]:
    """One stack, never deployed: each case points it at its own broken workspace."""
    root = tmp_path_factory.mktemp("checks")
    stack = modelpack_stack(root, f"pkg{short_id()}", root / "none")
    try:
        yield root, stack
    finally:
        stack.destroy()
        assert stack_images(stack.name) == []


@pytest.mark.parametrize("case", list(CHECKS))
def test_invalid_workspace_fails_preview_naming_file_and_field(checked, case: str) -> None:
    root, stack = checked
    breaker, file_name, field_name, words = CHECKS[case]
    workspace = package_workspace(root / case)
    breaker(workspace)
    stack.set_config("modelpack:assets", str(workspace))

    preview = stack.run("preview", "--diff", check=False)
    output = preview.stdout + preview.stderr
    assert preview.returncode != 0, output
    error = next((line for line in output.splitlines() if file_name in line), None)
    assert error is not None, output
    assert f"{file_name}: {field_name}: " in error, output
    assert words in error, output

    up = stack.run("up", "--yes", "--skip-preview", check=False)
    assert up.returncode != 0, up.stdout + up.stderr
    assert exported_resources(stack) in ([], ["pulumi:pulumi:Stack"])
    assert stack_images(stack.name) == []
    store = root / "state" / "models"
    assert not store.exists() or not any(store.iterdir())
