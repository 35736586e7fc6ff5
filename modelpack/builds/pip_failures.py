"""Reading a failed ``pip install`` as a person would: which package, why, and which file
pins it.

An environment's build context carries ``requirement-sources.json`` (requirement name ->
the file that asks for it); when its build fails, the image provider hands the build log to
`explain` and reports its sentence instead of the log's tail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

SOURCES_FILE = "requirement-sources.json"

_NO_VERSION = re.compile(
    r"Could not find a version that satisfies the requirement (?P<req>\S+)"
    r"(?: \(from versions: (?P<versions>[^)]*)\))?"
)
_OTHER_PYTHON = re.compile(
    r"Ignored the following versions that require a different python version: (?P<list>.*)"
)
_BUILDING = re.compile(
    r"(?:Building wheel for|Failed building wheel for|Failed to build|"
    r"Preparing metadata \(pyproject\.toml\) for|Getting requirements to build wheel for) "
    r"(?P<name>[A-Za-z0-9_.\-]+)"
)
_COLLECTING = re.compile(r"^\s*Collecting (?P<req>[A-Za-z0-9_.\-\[\]]+\S*)")
_COMPILER = re.compile(
    r"command '(?:gcc|g\+\+|cc|c\+\+|x86_64-linux-gnu-gcc)' failed|"
    r"(?:gcc|cc|g\+\+): (?:not found|No such file)|unable to execute '?(?:gcc|cc)|"
    r"Unknown compiler|C compiler cannot create executables|error: Microsoft Visual C\+\+|"
    r"Python\.h: No such file|cargo.*not found|Rust compiler",
    re.IGNORECASE,
)
_CONFLICT = re.compile(r"Cannot install (?P<what>.*?) because these package versions have conflict")
_NETWORK = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|ConnectTimeout|ReadTimeout"
)


def _name(requirement: str) -> str:
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return canonicalize_name(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0])


def requirement_sources(requirements: Iterable[str], source: Path) -> dict[str, str]:
    """Requirement name -> `source`, for every line of `requirements`."""
    return {_name(line): str(source) for line in requirements}


def write_sources(folder: Path, sources: dict[str, str]) -> None:
    (folder / SOURCES_FILE).write_text(json.dumps(sources, indent=1, sort_keys=True))


def read_sources(folder: Path) -> dict[str, str]:
    try:
        return json.loads((folder / SOURCES_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _where(name: str, sources: dict[str, str]) -> str:
    source = sources.get(_name(name))
    return f" (pinned in {source})" if source else ""


def _python_of(lines: list[str]) -> str:
    for line in lines:
        if match := re.search(r"python(\d\.\d+)/site-packages|Python (\d\.\d+)", line):
            return match[1] or match[2]
    return ""


def explain(log: list[str], sources: dict[str, str]) -> str | None:
    """One sentence for the failed pip install in `log`, or None when the log holds no pip
    failure this module knows."""
    text = "\n".join(log)
    match = _NO_VERSION.search(text)
    if match:
        requirement = match["req"]
        name = _name(requirement)
        where = _where(requirement, sources)
        versions = (match["versions"] or "").strip()
        other = _OTHER_PYTHON.search(text)
        if other and (versions in ("", "none") or requirement.split("==")[-1] in other["list"]):
            python = _python_of(log)
            listed = other["list"].strip()
            return (
                f"pip cannot install {requirement}{where}: no release of {name} for "
                f"{'Python ' + python if python else 'the base image Python'} "
                f"(these need another Python: {listed[:300]}); pick a version made for it"
            )
        if versions == "none" and _NETWORK.search(text):
            return (
                f"pip cannot install {requirement}{where}: the package index could not be "
                "reached from the build"
            )
        if versions in ("", "none"):
            return f"pip cannot install {requirement}{where}: no package {name} on the index"
        listed = versions.split(", ")
        shown = ", ".join(listed if len(listed) <= 12 else ["...", *listed[-12:]])
        return (
            f"pip cannot install {requirement}{where}: no such version of {name} "
            f"(available: {shown})"
        )
    building = [m["name"] for line in log if (m := _BUILDING.search(line))]
    if building:
        name = building[-1]
        where = _where(name, sources)
        if _COMPILER.search(text):
            return (
                f"pip cannot install {name}{where}: it has no wheel for this platform and "
                "building it from source needs a compiler the base image does not have; pick "
                "a version that has a wheel for this Python, or a base image with a compiler"
            )
        return (
            f"pip cannot install {name}{where}: building it from source failed (no wheel for "
            "this Python); pick a version that has a wheel for it"
        )
    match = _CONFLICT.search(text)
    if match:
        return (
            f"pip cannot install {match['what']}: these pins conflict with each other"
            f"{_where(match['what'].split()[0], sources)}"
        )
    return None
