"""The rendered build contexts (no Docker): layer order chosen for rebuild speed, and the
labels and hashes that tell what went into an image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelpack.assets import PipRequirements, load_asset_folder
from modelpack.assets.mlflow_env import MlflowEnvironment
from modelpack.builds import layout_for, render_environment_context, render_package_context
from modelpack.builds.pip_failures import read_sources

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "assets" / "example"
ENV_IMAGE = "sha256:" + "e" * 64


@pytest.fixture
def workspace(tmp_path: Path):
    """The example workspace with a stand-in model file (nothing is trained or built)."""
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("model", "__pycache__"))
    (root / "model").mkdir()
    (root / "model" / "sklearn_regression_model.pkl").write_bytes(b"stand-in model")
    return load_asset_folder(root)


def dockerfile(folder: Path) -> list[str]:
    return (folder / "Dockerfile").read_text().splitlines()


def image_env(context) -> dict[str, str]:
    """The environment the rendered ENV instruction sets, build arguments substituted."""
    (env,) = [line for line in dockerfile(context.folder) if line.startswith("ENV ")]
    values = {f"${{{name}}}": value for name, value in context.build_args.items()}
    return dict((pair.split("=", 1)[0], values[pair.split("=", 1)[1]]) for pair in env.split()[1:])


def render(workspace, name: str, folder: Path):
    package = workspace.package(name)
    layout = layout_for(package, "3")
    context = render_package_context(
        package, ENV_IMAGE, "3", layout, folder, environment_hash="env-hash"
    )
    return package, layout, context


def test_copy_package_layers_put_the_code_last(workspace, tmp_path: Path) -> None:
    package, layout, context = render(workspace, "sklearn-regression-docker-pkg", tmp_path / "c")
    lines = dockerfile(context.folder)
    assert lines[0] == f"FROM {ENV_IMAGE}"
    copies = [line for line in lines if line.startswith("COPY ")]
    # dependencies of the server, the server, the model, and the scoring code last
    assert [c.split()[1] for c in copies] == [
        "server-requirements.txt",
        "server",
        "model",
        "code",
    ]
    assert copies[-1] == f"COPY code {layout.code_dir}"
    assert copies[2] == f"COPY model {layout.model_dir}"
    index = {line: i for i, line in enumerate(lines)}
    pip = next(i for line, i in index.items() if '"pip", "install"' in line)
    assert pip < index[copies[1]] < index[copies[2]] < index[copies[3]]
    # the code is the last instruction: a score.py edit rebuilds that one step (and the
    # labels, which the image provider adds in one instruction after it)
    assert lines[-1] == copies[-1]
    metadata = [line for line in lines if line.split()[0] in {"USER", "WORKDIR", "EXPOSE", "CMD"}]
    assert metadata == [
        "USER 1000",
        f"WORKDIR {layout.code_dir}",
        "EXPOSE 5001",
        'CMD ["/opt/env/bin/python", "/opt/modelpack/serve.py"]',
    ]
    assert all(index[line] < index[copies[2]] for line in metadata)
    # the files are in the context
    assert (context.folder / "code" / "score.py").is_file()
    assert (context.folder / "model" / "model" / "sklearn_regression_model.pkl").is_file()
    server = context.folder / "server" / "lib" / "modelpack_inference_server"
    assert (server / "__main__.py").is_file()


def test_package_labels_and_hashes_name_what_went_in(workspace, tmp_path: Path) -> None:
    package, layout, context = render(workspace, "sklearn-regression-docker-pkg", tmp_path / "c")
    labels = context.labels
    assert labels["modelpack.package.name"] == "sklearn-regression-docker-pkg"
    assert labels["modelpack.model.name"] == "sklearn-regression"
    assert labels["modelpack.model.version"] == "3"
    assert labels["modelpack.model.hash"] == package.model.content_hash
    assert labels["modelpack.model.mode"] == "copy"
    assert labels["modelpack.code.hash"] == package.code_hash
    assert labels["modelpack.environment.hash"] == "env-hash"
    assert labels["modelpack.server.type"] == "azureml_online"
    assert labels["modelpack.server.version"].startswith("0.")
    assert set(context.hashes) == {"model", "code", "environment", "server"}
    assert context.hashes["code"] == package.code_hash
    assert image_env(context)["AZUREML_MODEL_DIR"] == str(layout.model_dir)
    assert image_env(context)["AZUREML_ENTRY_SCRIPT"] == "/var/azureml-app/src/score.py"
    assert str(layout.model_dir) == "/var/azureml-app/azureml-models/sklearn-regression/3"


def test_readonly_mount_package_holds_no_model(workspace, tmp_path: Path) -> None:
    _, layout, context = render(workspace, "sklearn-regression-online-pkg", tmp_path / "m")
    lines = dockerfile(context.folder)
    copies = [line for line in lines if line.startswith("COPY ")]
    assert not any("model" in c.split()[1] for c in copies)
    assert copies[-1] == f"COPY code {layout.code_dir}"
    assert not (context.folder / "model").exists()
    assert lines[-1] == copies[-1]
    assert context.labels["modelpack.model.mode"] == "readonly_mount"


def test_score_edit_changes_only_the_code_hash(workspace, tmp_path: Path) -> None:
    package = workspace.package("sklearn-regression-docker-pkg")
    before = package.hashes
    (package.code_dir / "score.py").write_text(
        (package.code_dir / "score.py").read_text() + "\n# edited\n"
    )
    after = load_asset_folder(workspace.root).package("sklearn-regression-docker-pkg").hashes
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"code"}


def test_environment_context_installs_requirements_from_one_layer(
    workspace, tmp_path: Path
) -> None:
    environment = workspace.environment("sklearn-regression-env")
    context = render_environment_context(environment, tmp_path / "env")
    lines = dockerfile(context.folder)
    assert lines[0] == "FROM python:3.11-slim"
    assert lines[-2].startswith("COPY requirements.txt ")
    pip = 'RUN ["/opt/env/bin/python", "-m", "pip", "install", "--no-cache-dir"'
    assert lines[-1] == pip + ', "-r", "/opt/env/requirements.txt"]'
    assert pip + ', "pip==26.0.1"]' in lines
    requirements = (context.folder / "requirements.txt").read_text().split()
    assert requirements == [
        "numpy==2.4.6",
        "scikit-learn==1.9.1",
        "scipy==1.17.1",
        "joblib==1.6.0",
    ]
    assert context.labels["modelpack.environment.hash"] == context.hashes["environment"]
    again = render_environment_context(environment, tmp_path / "env2")
    assert again.hashes == context.hashes


def test_mlflow_environment_is_built_from_what_its_mlmodel_names(tmp_path: Path) -> None:
    environment = MlflowEnvironment(
        tmp_path / "MLmodel",
        tmp_path / "conda.yaml",
        PipRequirements(python="3.11.7", pip="24.0", requirements=["scikit-learn==1.9.1"]),
    )
    context = render_environment_context(None, tmp_path / "env", mlflow=environment)
    lines = dockerfile(context.folder)
    assert lines[0] == "FROM python:3.11-slim"
    assert 'RUN ["/opt/env/bin/python", "-m", "pip", "install", "--no-cache-dir", "pip==24.0"]' in (
        lines
    )
    assert (context.folder / "requirements.txt").read_text().split() == ["scikit-learn==1.9.1"]
    sources = read_sources(context.folder)
    assert sources == {
        "scikit-learn": str(tmp_path / "conda.yaml"),
        "pip": str(tmp_path / "conda.yaml"),
    }


def test_custom_server_package_keeps_the_servers_own_command(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "linear.json").write_text('{"coef": [1.0], "intercept": 0.0}')
    (root / "model.yml").write_text("name: linear\npath: linear.json\n")
    (root / "environment.yml").write_text("name: server-env\nimage: my/server:1\n")
    (root / "package.yml").write_text(
        "$schema: http://azureml/sdk-2-0/ModelVersionPackage.json\n"
        "target_environment_name: linear-pkg\n"
        "base_environment_source: {type: environment_asset, "
        "resource_id: 'azureml:server-env@latest'}\n"
        "inferencing_server:\n"
        "  type: custom\n"
        "  inference_configuration:\n"
        "    scoring_route: {port: 8501, path: '/v1/models/m:predict'}\n"
        "    readiness_route: {port: 8501, path: /v1/models/m}\n"
        "model_configuration: {mode: copy, mount_path: /models}\n"
        "environment_variables: {MODEL_PATH: /models/linear.json}\n"
    )
    package = load_asset_folder(root).package("linear-pkg")
    layout = layout_for(package, "1")
    assert (str(layout.model_dir), layout.port, layout.code_dir) == ("/models", 8501, None)
    context = render_package_context(
        package, "my/server:1", "1", layout, tmp_path / "c", environment_hash="h"
    )
    lines = dockerfile(context.folder)
    assert lines == [
        "FROM my/server:1",
        "ARG MODELPACK_ENV_MODEL_PATH",
        "ENV MODEL_PATH=${MODELPACK_ENV_MODEL_PATH}",
        "COPY model /models",
    ]
    assert context.build_args == {"MODELPACK_ENV_MODEL_PATH": "/models/linear.json"}
    assert (context.folder / "model" / "linear.json").is_file()
    assert context.labels["modelpack.server.type"] == "custom"
    assert "modelpack.server.version" not in context.labels


def test_labels_go_in_one_instruction_after_the_dockerfile(tmp_path: Path) -> None:
    from modelpack.targets.docker.image import labelled_dockerfile

    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY code /app\n")
    text = labelled_dockerfile(str(tmp_path), "Dockerfile", {"b.x": "2", "a.y": "$HOME é"})
    assert text.splitlines() == [
        "FROM scratch",
        "COPY code /app",
        'LABEL "a.y"="\\$HOME é" "b.x"="2"',
    ]
    assert labelled_dockerfile(str(tmp_path), "Dockerfile", {}) == "FROM scratch\nCOPY code /app\n"
