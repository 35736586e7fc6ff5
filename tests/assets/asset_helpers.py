"""Helpers shared by the spec tests: the seed's files, the example workspace and a small
valid workspace to break in each test."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED = Path(__file__).resolve().parent / "fixtures" / "seed"
EXAMPLE = REPO / "assets" / "example"


@dataclass(frozen=True)
class Link:
    """A symbolic link to `target` (as written), for `write_files`."""

    target: str


Files = dict[str, str | Link | None]


def write_files(root: Path, files: Files) -> None:
    """Write `files` (relative path -> text, dedented; a `Link`; None deletes) under `root`."""
    for name, text in files.items():
        path = root / name
        if isinstance(text, Link):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(text.target)
            continue
        if text is None:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


SCORE = """
    import json


    def init():
        pass


    def run(raw_data):
        return json.loads(raw_data)["data"]
    """

CONDA = """\
name: env
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26.4
"""

# A small valid workspace: model + environment + package + endpoint + one deployment.
_BASE = {
    "model.yml": """
        name: m1
        path: model
        type: custom_model
        """,
    "model/weights.bin": "not really weights\n",
    "environment.yml": """
        name: env1
        image: python:3.11-slim
        conda_file: environment/conda.yaml
        """,
    "environment/conda.yaml": CONDA,
    "package.yml": """
        $schema: http://azureml/sdk-2-0/ModelVersionPackage.json
        base_environment_source:
          type: environment_asset
          resource_id: azureml:env1@latest
        target_environment_name: pkg1
        inferencing_server:
          type: azureml_online
          code_configuration:
            code: src
            entry_script: score.py
        """,
    "src/score.py": SCORE,
    "endpoint.yml": """
        name: ep1
        auth_mode: key
        traffic:
          blue: 100
        """,
    "blue.yml": """
        name: blue
        endpoint_name: ep1
        environment: azureml:pkg1@latest
        instance_type: Standard_DS3_v2
        instance_count: 1
        """,
}
BASE: dict[str, str] = {name: textwrap.dedent(text).lstrip("\n") for name, text in _BASE.items()}
