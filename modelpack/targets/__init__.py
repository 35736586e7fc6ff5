"""Deployment targets: where what the components describe runs (see base.py).

`modelpack:target` in a stack file names one of TARGETS; `docker` is the default.
"""

from __future__ import annotations

import importlib

from .base import Target

TARGETS = {
    "docker": "modelpack.targets.docker.target:DockerTarget",
    "kubernetes": "modelpack.targets.kubernetes.target:KubernetesTarget",
}
"""name -> `module:class` of its implementation, imported only when a stack uses it."""


def load_target(name: str) -> Target:
    module_name, class_name = TARGETS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()


__all__ = ["TARGETS", "Target", "load_target"]
