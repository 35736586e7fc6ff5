"""A workspace registry as a process: started detached, found by its config, never adopted
across workspaces, stopped with its storage kept. Real docker-registry processes, no Docker."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from modelpack.image_registry import (
    RegistryError,
    RegistrySpec,
    ensure_running,
    probe,
    running_pids,
    stop,
)
from modelpack.image_registry.process import free_port
from modelpack.image_registry.references import parse_reference, repository_name

pytestmark = pytest.mark.real


def test_start_adopt_clash_and_stop(tmp_path: Path) -> None:
    port = free_port()
    mine = RegistrySpec(tmp_path / "dev" / "registry", port)
    theirs = RegistrySpec(tmp_path / "prod" / "registry", port)
    try:
        started = ensure_running(mine)
        assert started.started and started.port == port
        assert probe(port) == mine.identity
        assert running_pids(mine) == [started.pid]
        assert mine.pid_file.read_text().strip() == str(started.pid)
        assert os.getsid(started.pid) == started.pid  # its own session: outlives its starter

        again = ensure_running(mine)  # already answering: adopted, not started twice
        assert not again.started and again.pid == started.pid

        with pytest.raises(RegistryError, match=f"port {port} is taken by the registry of"):
            ensure_running(theirs)  # another workspace's registry is never adopted
        assert running_pids(theirs) == []
    finally:
        stopped = stop(mine)
    assert stopped == [started.pid]
    assert running_pids(mine) == [] and probe(port) is None
    assert mine.data_dir.is_dir() and not mine.pid_file.exists()  # storage kept


def test_port_zero_picks_a_free_port(tmp_path: Path) -> None:
    spec = RegistrySpec(tmp_path / "registry", 0)
    try:
        running = ensure_running(spec)
        assert running.started and running.port > 0
        assert probe(running.port) == spec.identity
    finally:
        stop(spec)
    assert running_pids(spec) == []


def test_references() -> None:
    digest = "sha256:" + "ab" * 32
    reference = parse_reference(f"127.0.0.1:28500/sklearn-regression-docker-pkg@{digest}")
    assert (reference.port, reference.repository, reference.digest) == (
        28500,
        "sklearn-regression-docker-pkg",
        digest,
    )
    assert str(reference) == f"127.0.0.1:28500/sklearn-regression-docker-pkg@{digest}"
    for bad in ("registry.example/x@" + digest, "127.0.0.1:1/x:latest", "127.0.0.1:1/X@" + digest):
        with pytest.raises(ValueError, match="digest reference"):
            parse_reference(bad)
    assert repository_name("My_Package.v2") == "my_package.v2"
    assert repository_name("a  b") == "a-b"


def _ask(spec: RegistrySpec) -> tuple[int, bool]:
    running = ensure_running(spec)
    return running.port, running.started


@pytest.mark.parametrize("fixed_port", [True, False])
def test_a_registry_asked_for_by_many_at_once_starts_once(tmp_path: Path, fixed_port) -> None:
    """The program and the providers of one `up` each ask for the registry: one start."""
    spec = RegistrySpec(tmp_path / "registry", free_port() if fixed_port else 0)
    try:
        with multiprocessing.get_context("spawn").Pool(6) as pool:
            answers = pool.map(_ask, [spec] * 6)
        assert len({port for port, _ in answers}) == 1, answers
        assert [started for _, started in answers].count(True) == 1, answers
        assert len(running_pids(spec)) == 1
    finally:
        stop(spec)
