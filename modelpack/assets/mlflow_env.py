"""The environment an MLflow model asks for, read as Azure ML reads it.

The MLmodel's ``flavors.python_function.env`` names a conda file (``env: conda.yaml``) or
both files MLflow writes (``env: {conda: conda.yaml, virtualenv: python_env.yaml}``). The
conda file is what Azure builds, so it comes first, translated to pip like any conda file
(`conda.conda_to_pip`); without one, ``python_env.yaml`` and the ``requirements.txt`` it
names; without either, ``requirements.txt`` alone with the MLmodel's ``python_version``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conda import PipRequirements, read_conda_file
from .errors import SpecError
from .yaml_files import read_yaml

ENV_FIELD = "flavors.python_function.env"
# What a model without any environment file gets.
DEFAULT_REQUIREMENTS = ("mlflow-skinny", "pandas", "scikit-learn")


@dataclass(frozen=True)
class MlflowEnvironment:
    """`requirements` of the model in `mlmodel`, read from `source` (None: the defaults).
    Paths are as errors show them."""

    mlmodel: Path
    source: Path | None
    requirements: PipRequirements = field(default_factory=PipRequirements)


class _Reader:
    def __init__(self, model_dir: Path, shown: Callable[[Path], Path]) -> None:
        self.model_dir = model_dir
        self.shown = shown
        self.mlmodel = shown(model_dir / "MLmodel")
        self.errors: list[SpecError] = []

    def named_file(self, value: Any, field_name: str) -> Path | None:
        """A file the MLmodel names, inside the model folder; None when absent."""
        if not isinstance(value, str) or not value.strip():
            self.errors.append(SpecError(self.mlmodel, field_name, "must be a file name"))
            return None
        path = (self.model_dir / value).resolve()
        if not path.is_relative_to(self.model_dir.resolve()):
            self.errors.append(
                SpecError(self.mlmodel, field_name, f"{value!r} points outside the model folder")
            )
            return None
        return path if path.is_file() else None

    def conda(self, path: Path) -> PipRequirements | None:
        requirements, errors = read_conda_file(path, self.shown(path))
        self.errors.extend(errors)
        return requirements

    def requirements_file(self, path: Path) -> list[str] | None:
        shown = self.shown(path)
        lines: list[str] = []
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            if not line:
                continue
            if line.startswith("-"):
                self.errors.append(
                    SpecError(shown, f"line {number}", f"{line!r}: pip options are not used here")
                )
                return None
            lines.append(line)
        return lines

    def python_env(self, path: Path) -> tuple[PipRequirements, Path] | None:
        """python_env.yaml: ``python``, ``build_dependencies``, ``dependencies`` (requirement
        lines, or ``-r requirements.txt``)."""
        shown = self.shown(path)
        try:
            data = read_yaml(path, shown)
        except SpecError as exc:
            self.errors.append(exc)
            return None
        if not isinstance(data, Mapping):
            self.errors.append(SpecError(shown, "", "must be a mapping"))
            return None
        requirements: list[str] = []
        source = path
        for index, entry in enumerate(data.get("dependencies") or []):
            entry = str(entry).strip()
            if entry.startswith("-r"):
                named = self.named_file(entry[2:].strip(), f"dependencies[{index}]")
                if named is None:
                    self.errors.append(SpecError(shown, f"dependencies[{index}]", "not found"))
                    return None
                lines = self.requirements_file(named)
                if lines is None:
                    return None
                requirements += lines
                source = named
            elif entry:
                requirements.append(entry)
        python = data.get("python")
        return PipRequirements(python=str(python) if python else None, requirements=requirements), (
            source
        )

    def read(self, mlmodel: Any) -> MlflowEnvironment | None:
        function = mlmodel.get("flavors", {}).get("python_function", {})
        function = function if isinstance(function, Mapping) else {}
        env = function.get("env")
        conda_name, virtualenv_name = (env, None) if isinstance(env, str) else (None, None)
        if isinstance(env, Mapping):
            conda_name, virtualenv_name = env.get("conda"), env.get("virtualenv")
        elif env is not None and not isinstance(env, str):
            self.errors.append(
                SpecError(self.mlmodel, ENV_FIELD, "must be a file name or a mapping")
            )
            return None
        conda = self.named_file(conda_name, f"{ENV_FIELD}.conda") if conda_name else None
        if conda is not None:
            requirements = self.conda(conda)
            return self.made(requirements, conda)
        virtualenv = self.named_file(
            virtualenv_name or "python_env.yaml", f"{ENV_FIELD}.virtualenv"
        )
        if virtualenv is not None:
            found = self.python_env(virtualenv)
            return self.made(*found) if found else None
        plain = self.model_dir / "requirements.txt"
        if plain.is_file():
            lines = self.requirements_file(plain)
            python = function.get("python_version")
            if lines is None:
                return None
            return self.made(
                PipRequirements(python=str(python) if python else None, requirements=lines), plain
            )
        return MlflowEnvironment(
            self.mlmodel, None, PipRequirements(requirements=list(DEFAULT_REQUIREMENTS))
        )

    def made(self, requirements: PipRequirements | None, source: Path) -> MlflowEnvironment | None:
        if requirements is None:
            return None
        return MlflowEnvironment(self.mlmodel, self.shown(source), requirements)


def read_mlflow_environment(
    model_dir: Path, shown: Callable[[Path], Path]
) -> tuple[MlflowEnvironment | None, list[SpecError]]:
    """The environment of the MLflow model in `model_dir` (absolute, holding MLmodel), and
    the problems found; `shown` turns an absolute path into the one errors show."""
    reader = _Reader(model_dir, shown)
    try:
        data = read_yaml(model_dir / "MLmodel", reader.mlmodel)
    except SpecError as exc:
        return None, [exc]
    if not isinstance(data, Mapping) or not isinstance(data.get("flavors"), Mapping):
        return None, [
            SpecError(reader.mlmodel, "flavors", "must be a mapping (is this an MLmodel?)")
        ]
    environment = reader.read(data)
    return (environment if not reader.errors else None), reader.errors
