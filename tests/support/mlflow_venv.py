"""The one virtualenv with mlflow that tests use to write MLflow models and to serve them.

mlflow is not a dependency of the project, so tests that need it share a separate venv. Its
folder is named after a hash of what is installed in it (the pins below and the injected
server's requirements), and it counts as built only once its completion marker is written: a
venv left half-built, or built by an older run for other packages, is never reused.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVER_REQUIREMENTS = REPO / "modelpack" / "inference_server" / "requirements.txt"
CACHE = Path(os.environ.get("MODELPACK_CACHE", Path.home() / ".cache" / "modelpack"))
MLFLOW_PINS = [
    "mlflow-skinny==3.17.2",
    "scikit-learn==1.9.1",
    "numpy==2.4.6",
    "pandas==3.1.1",
    "joblib==1.6.0",
]
COMPLETE = ".modelpack-complete"


def _folder() -> Path:
    wanted = "\n".join(MLFLOW_PINS) + "\n" + SERVER_REQUIREMENTS.read_text()
    return CACHE / f"mlflow-venv-{hashlib.sha256(wanted.encode()).hexdigest()[:12]}"


def mlflow_python() -> Path:
    """The venv's interpreter: mlflow, pandas, scikit-learn and the server's requirements
    (created on first use; about a minute)."""
    venv = _folder()
    python = venv / "bin" / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / COMPLETE).exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *MLFLOW_PINS]
            + ["-r", str(SERVER_REQUIREMENTS)],
            check=True,
            timeout=900,
        )
        (venv / COMPLETE).write_text("")
    return python
