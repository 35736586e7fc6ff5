"""The inference server as it is injected into a package image: apart from the user's
environment.

The user's environment (`/opt/env`) stays exactly as their conda file says. The server's
dependencies are installed with ``pip install --target`` into their own folder, and the
server's package goes there under a name no user package has; the launcher puts that folder
first on ``sys.path`` of the server's process only (no PYTHONPATH, so `pip list`, a shell or a
subprocess of score.py see the user's environment alone).
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from .dockerfile import exec_form
from .layout import SERVER_DIR

INFERENCE_SOURCE = Path(__file__).resolve().parent.parent / "inference_server"
SERVER_PACKAGE = "modelpack_inference_server"
SERVER_LIB = SERVER_DIR / "lib"
LAUNCHER = SERVER_DIR / "serve.py"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")

LAUNCHER_SOURCE = f'''"""Starts the model server injected by modelpack (its builds/server.py)."""

import os
import sys

# In place of this script's folder: the server's libraries, then the working folder (the
# scoring code, as `python -m` would have it). Spawned workers inherit this sys.path and run
# this file again.
if sys.path[0] != "{SERVER_LIB}":
    sys.path[0:1] = ["{SERVER_LIB}", os.getcwd()]

from {SERVER_PACKAGE}.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
'''


def server_files(folder: Path) -> None:
    """Write what `dockerfile_lines` copies into the build context `folder`."""
    shutil.copy2(INFERENCE_SOURCE / "requirements.txt", folder / "server-requirements.txt")
    server = folder / "server"
    shutil.copytree(INFERENCE_SOURCE, server / "lib" / SERVER_PACKAGE, ignore=_IGNORE)
    (server / "lib" / SERVER_PACKAGE / "requirements.txt").unlink()
    (server / LAUNCHER.name).write_text(LAUNCHER_SOURCE)


def dockerfile_lines(python: PurePosixPath) -> list[str]:
    """Install the server's dependencies (one layer, rebuilt only when they change), then the
    server and its launcher (one layer)."""
    requirements = SERVER_DIR / "requirements.txt"
    install = [str(python), "-m", "pip", "install", "--no-cache-dir", "--no-warn-script-location"]
    # --target installs every dependency there, whatever /opt/env already has.
    install += ["--target", str(SERVER_LIB), "-r", str(requirements)]
    return [
        f"COPY server-requirements.txt {requirements}",
        "RUN " + exec_form(install),
        f"COPY server {SERVER_DIR}",
    ]


def command(python: PurePosixPath) -> str:
    return "CMD " + exec_form([str(python), str(LAUNCHER)])
