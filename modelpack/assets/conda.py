"""Conda environment files and their translation into pip requirements.

Conda channels cannot be reached where packages are built, so a conda file's dependencies
are installed with pip: ``numpy=1.23.5`` becomes ``numpy==1.23.5``, well-known conda names
are mapped to their PyPI names (``pytorch`` -> ``torch``), ``python=...`` and ``pip=...``
are returned apart (they describe the interpreter and the installer, not a package), and
packages that only exist as conda binaries (``cudatoolkit``, ``mkl``, ...) are reported
together in one `CondaConversionError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import Discriminator, Tag

from .base import INLINE_TAG, REFERENCE_TAG, SpecModel, shape_tag
from .errors import SpecError
from .validation import validate
from .yaml_files import read_yaml


class PipSection(SpecModel):
    """The ``- pip: [...]`` entry of a conda file's dependencies."""

    pip: list[str]


CondaDependency = Annotated[
    Annotated[str, Tag(REFERENCE_TAG)] | Annotated[PipSection, Tag(INLINE_TAG)],
    Discriminator(shape_tag),
]


class CondaFile(SpecModel):
    """A conda environment file (``conda.yaml``)."""

    name: str | None = None
    channels: list[str] = []
    dependencies: list[CondaDependency] = []
    prefix: str | None = None  # written by `conda env export`; ignored


# conda package name -> PyPI name, where they differ.
CONDA_TO_PIP: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "py-lightgbm": "lightgbm",
    "py-catboost": "catboost",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "tensorflow-base": "tensorflow",
    "tensorflow-cpu": "tensorflow-cpu",
    "pyqt": "PyQt5",
    "typing_extensions": "typing-extensions",
    "python-kaleido": "kaleido",
    "python-graphviz": "graphviz",
    "pywin32": "pywin32",
}

# Conda packages that are native libraries or toolchains with no PyPI counterpart.
NO_PIP_EQUIVALENT: frozenset[str] = frozenset(
    {
        "blas",
        "bzip2",
        "ca-certificates",
        "cudatoolkit",
        "cudatoolkit-dev",
        "cudnn",
        "gcc",
        "gcc_linux-64",
        "gxx",
        "gxx_linux-64",
        "gfortran",
        "icu",
        "intel-openmp",
        "jpeg",
        "ld_impl_linux-64",
        "libblas",
        "libcblas",
        "libcurl",
        "libffi",
        "libgcc",
        "libgcc-ng",
        "libgfortran",
        "libgfortran-ng",
        "libgfortran5",
        "libgomp",
        "libiconv",
        "liblapack",
        "liblapacke",
        "libopenblas",
        "libpng",
        "libprotobuf",
        "libsqlite",
        "libstdcxx",
        "libstdcxx-ng",
        "libuuid",
        "libxml2",
        "libzlib",
        "lz4-c",
        "mkl",
        "mkl-include",
        "mkl_fft",
        "mkl_random",
        "mpich",
        "nccl",
        "ncurses",
        "nodejs",
        "openblas",
        "openjdk",
        "openmpi",
        "openssl",
        "pytorch-cuda",
        "pytorch-mutex",
        "r-base",
        "readline",
        "sqlite",
        "tk",
        "xz",
        "zlib",
        "zstd",
    }
)
_NO_PIP_PREFIXES = ("_", "r-", "cuda-", "libcu", "libnv", "libnpp")

_SPEC = re.compile(
    r"^(?:(?P<channel>[^:\s]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(?P<rest>.*)$"
)
_OPERATOR = re.compile(r"^(==|>=|<=|!=|~=|>|<)")


class CondaConversionError(ValueError):
    """Conda dependencies that cannot be installed with pip, all of them at once."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        # (index in dependencies, the dependency as written, why)
        self.problems = problems
        listed = "; ".join(f"{dep} (dependencies[{i}]: {why})" for i, dep, why in problems)
        super().__init__(
            f"conda packages cannot be installed here (no conda channels, only pip): {listed}. "
            "Remove them, install them in the base image, or list pip packages instead"
        )

    @property
    def packages(self) -> list[str]:
        return [dep for _, dep, _ in self.problems]


class CondaEntryError(ValueError):
    """One conda dependency that cannot be used as written: `field` is its place in the
    file (``dependencies[2]``, ``dependencies[3].pip[0]``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class PipRequirements:
    """What a conda file asks for, in pip terms.

    `python` and `pip` are version specs as written in the conda file (``3.9``, ``>=3.8``),
    or None when the file does not pin them; `requirements` are pip requirement lines.
    """

    python: str | None = None
    pip: str | None = None
    requirements: list[str] = field(default_factory=list)


def pip_name(conda_name: str) -> str | None:
    """The PyPI name of a conda package, or None when it has no pip equivalent."""
    name = conda_name.lower()
    if name in CONDA_TO_PIP:
        return CONDA_TO_PIP[name]
    if name in NO_PIP_EQUIVALENT or name.startswith(_NO_PIP_PREFIXES):
        return None
    return conda_name


def _pip_version(rest: str) -> str:
    """Translate a conda version spec into a pip one ('' when unpinned)."""
    rest = rest.strip()
    if not rest:
        return ""
    if "|" in rest:
        raise ValueError("'|' alternatives have no pip form")
    if _OPERATOR.match(rest):
        return rest.replace(" ", "")
    # "=1.23.5", "=1.23.5=py39h...", "1.23.5 py39h..." (version, then a build string)
    version = rest[1:] if rest.startswith("=") else rest
    version = version.split("=", 1)[0].split()[0] if version.strip() else ""
    if not version:
        raise ValueError("empty version")
    if version == "*":
        return ""
    if "*" in version:
        return "==" + version.rstrip(".*") + ".*"
    if version.count(".") < 2:
        # conda's =1.23 means any 1.23.x
        return f"=={version}.*"
    return "==" + version


def _written_version(rest: str) -> str | None:
    """The version of ``python=3.9`` / ``pip==23.0.1`` as written ('3.9', '>=3.8')."""
    rest = rest.strip()
    if " " in rest:
        rest = rest.split()[0]
    if rest.startswith("=="):
        return rest[2:] or None
    if rest.startswith("="):
        return rest[1:].split("=", 1)[0] or None
    return rest or None


def pip_requirement(version: str) -> str:
    """The pip requirement that installs the pip a conda file asks for: ``pip==23.0.1`` for
    ``pip=23.0.1``, ``pip>=23`` for ``pip>=23``. `version` must be checked by
    `check_pip_version` (it is installed by a build step)."""
    return f"pip{version}" if _OPERATOR.match(version) else f"pip=={version}"


def check_pip_version(version: str) -> str:
    """`version` (``23.0.1``, ``>=23``, ``23.*``) if it is a PEP 440 version or version
    specifier; raises ValueError otherwise."""
    try:
        SpecifierSet(pip_requirement(version).removeprefix("pip"))
    except InvalidSpecifier:
        raise ValueError(
            f"pip={version} is not a version (write it like pip=23.0.1 or pip>=23)"
        ) from None
    return version


def _check_pip_line(line: str, field: str) -> None:
    """A ``- pip:`` entry is one line of the requirements file pip is given: a line break
    inside it would add lines nobody wrote."""
    if any(ord(c) < 32 or ord(c) == 127 for c in line):
        raise CondaEntryError(field, f"{line!r} holds a line break or control character")


def conda_to_pip(conda: CondaFile) -> PipRequirements:
    """Translate a conda file into pip requirements; raises `CondaConversionError` listing
    every dependency that has no pip equivalent, or `CondaEntryError` for a malformed
    ``pip=`` version or ``- pip:`` entry."""
    python: str | None = None
    pip: str | None = None
    requirements: list[str] = []
    problems: list[tuple[int, str, str]] = []
    pip_sections: list[str] = []

    for index, dependency in enumerate(conda.dependencies):
        if isinstance(dependency, PipSection):
            for number, line in enumerate(dependency.pip):
                _check_pip_line(line, f"dependencies[{index}].pip[{number}]")
            pip_sections.extend(dependency.pip)
            continue
        match = _SPEC.match(dependency.strip())
        if not match:
            problems.append((index, dependency, "not a conda package spec"))
            continue
        name = match["name"]
        lowered = name.lower()
        if lowered in ("python", "pip"):
            written = _written_version(match["rest"])
            if lowered == "python":
                python = written
            elif written is not None:
                try:
                    pip = check_pip_version(written)
                except ValueError as exc:
                    raise CondaEntryError(f"dependencies[{index}]", str(exc)) from None
            continue
        try:
            version = _pip_version(match["rest"])
        except ValueError as exc:
            problems.append((index, dependency, str(exc)))
            continue
        mapped = pip_name(name)
        if mapped is None:
            problems.append((index, dependency, "no pip equivalent"))
            continue
        requirements.append(mapped + version)

    if problems:
        raise CondaConversionError(problems)
    return PipRequirements(python=python, pip=pip, requirements=requirements + pip_sections)


def read_conda_file(
    path: Path, shown: Path | str
) -> tuple[PipRequirements | None, list[SpecError]]:
    """A conda file as pip requirements, or None and the errors that name `shown` (the path
    as messages show it) and the field at fault."""
    try:
        data = read_yaml(path, shown)
    except SpecError as exc:
        return None, [exc]
    conda, errors = validate(CondaFile, data, shown)
    if errors:
        return None, errors
    try:
        return conda_to_pip(conda), []
    except CondaConversionError as exc:
        return None, [SpecError(shown, "dependencies", str(exc))]
    except CondaEntryError as exc:
        return None, [SpecError(shown, exc.field, exc.message)]
