"""Import paths of Azure ML's raw-request API, for score.py files that use ``@rawhttp``.

``install()`` makes ``azureml.contrib.services.aml_request`` / ``aml_response`` (and the
``azureml_inference_server_http.api`` spelling) importable, pointing at the stand-ins in this
folder, unless the real modules are installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

# Relative to this package: the server is copied into images under another name.
ALIASES = {
    "azureml.contrib.services.aml_request": ".aml_request",
    "azureml.contrib.services.aml_response": ".aml_response",
    "azureml_inference_server_http.api.aml_request": ".aml_request",
    "azureml_inference_server_http.api.aml_response": ".aml_response",
}


def install() -> None:
    for name, ours in ALIASES.items():
        if name not in sys.modules and not _installed(name):
            # A module in sys.modules is imported as is, without its parent packages.
            sys.modules[name] = importlib.import_module(ours, __name__)


def raw_http_requested() -> bool:
    """Whether a ``@rawhttp`` decorator (ours or Azure ML's) has run."""
    seen = {id(m): m for name in ALIASES if (m := sys.modules.get(name)) is not None}
    return any(getattr(module, "_rawHttpRequested", False) for module in seen.values())


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package is missing
        return False
