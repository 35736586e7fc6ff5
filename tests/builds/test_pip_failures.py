"""A failed pip install in an image build is told as which package, why, and where it is
pinned (issue 16 item 6). The logs are pip's own wording."""

from __future__ import annotations

from pathlib import Path

from modelpack.builds.pip_failures import explain, read_sources, requirement_sources, write_sources

CONDA = "/ws/environment/conda.yaml"
SOURCES = requirement_sources(
    ["scikit-learn==0.0.1", "numpy==2.3.1", "Fancy_Native==1.0", "pip==25.1.1"], Path(CONDA)
)
STEP = 'Step 5/6 : RUN ["/opt/env/bin/python", "-m", "pip", "install", "-r", "requirements.txt"]'


def test_no_such_version() -> None:
    log = [
        STEP,
        "ERROR: Could not find a version that satisfies the requirement scikit-learn==0.0.1 "
        "(from versions: 0.9, 1.8.0, 1.9.0, 1.9.1)",
        "ERROR: No matching distribution found for scikit-learn==0.0.1",
    ]
    assert explain(log, SOURCES) == (
        f"pip cannot install scikit-learn==0.0.1 (pinned in {CONDA}): no such version of "
        "scikit-learn (available: 0.9, 1.8.0, 1.9.0, 1.9.1)"
    )


def test_no_release_for_this_python() -> None:
    log = [
        STEP,
        "ERROR: Ignored the following versions that require a different python version: "
        "2.3.0 Requires-Python >=3.12; 2.3.1 Requires-Python >=3.12",
        "ERROR: Could not find a version that satisfies the requirement numpy==2.3.1 "
        "(from versions: 2.2.5, 2.2.6)",
        "ERROR: No matching distribution found for numpy==2.3.1",
        "  /opt/env/lib/python3.11/site-packages/pip/_internal/...",
    ]
    message = explain(log, SOURCES)
    assert message.startswith(f"pip cannot install numpy==2.3.1 (pinned in {CONDA}): no release")
    assert "for Python 3.11" in message and "2.3.1 Requires-Python >=3.12" in message


def test_needs_a_compiler() -> None:
    log = [
        STEP,
        "Collecting Fancy_Native==1.0",
        "  Downloading fancy_native-1.0.tar.gz (20 kB)",
        "Building wheels for collected packages: fancy-native",
        "  Building wheel for fancy-native (pyproject.toml): started",
        "  error: subprocess-exited-with-error",
        "  error: command 'gcc' failed: No such file or directory",
        "  ERROR: Failed building wheel for fancy-native",
        "Failed to build fancy-native",
    ]
    assert explain(log, SOURCES) == (
        f"pip cannot install fancy-native (pinned in {CONDA}): it has no wheel for this "
        "platform and building it from source needs a compiler the base image does not "
        "have; pick a version that has a wheel for this Python, or a base image with a compiler"
    )


def test_no_such_package_and_unknown_failures() -> None:
    log = [
        "ERROR: Could not find a version that satisfies the requirement nopkg==1 "
        "(from versions: none)",
        "ERROR: No matching distribution found for nopkg==1",
    ]
    assert explain(log, {}) == "pip cannot install nopkg==1: no package nopkg on the index"
    assert explain(["Step 3/4 : RUN something", "exit status 2"], SOURCES) is None


def test_sources_travel_in_the_build_context(tmp_path: Path) -> None:
    write_sources(tmp_path, SOURCES)
    assert read_sources(tmp_path)["scikit-learn"] == CONDA
    assert read_sources(tmp_path)["fancy-native"] == CONDA
    assert read_sources(tmp_path / "missing") == {}
