"""Our Pulumi plugins stop when the CLI interrupts them, and the `modelpack` commands run
`pulumi` with SIGINT at its default, even when they were started with SIGINT ignored, as every
process of a shell script's background job is. The CLI kills a plugin that has not stopped 5 s
after its SIGINT: before the fix, every `pulumi` command run that way took 5 s longer (a
failing `pulumi up` 6 s instead of 1)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf.empty_pb2 import Empty
from pulumi.runtime.proto import language_pb2_grpc, provider_pb2_grpc

from tests.support.pulumi_cli import PASSPHRASE, Stack

PLUGINS = {
    "pulumi-language-python": language_pb2_grpc.LanguageRuntimeStub,
    "pulumi-resource-pulumi-python": provider_pb2_grpc.ResourceProviderStub,
}
CLI_KILL_GRACE_S = 5
"""How long the Pulumi CLI waits for a plugin to stop after its SIGINT before it kills it."""


def ignore_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("inherited", ["default", "ignored"])
@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_plugin_stops_on_the_clis_interrupt(plugin: str, inherited: str) -> None:
    # As the CLI starts it: the engine's address as its argument, its port on the first line.
    process = subprocess.Popen(
        [shutil.which(plugin) or plugin, "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore_interrupt if inherited == "ignored" else None,
    )
    try:
        port = int(process.stdout.readline())
        # The CLI talks to a plugin before it is done with it.
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert PLUGINS[plugin](channel).GetPluginInfo(Empty(), timeout=10).version
        process.send_signal(signal.SIGINT)
        process.wait(CLI_KILL_GRACE_S)
    finally:
        process.kill()
        process.wait()
    assert "Traceback" not in process.stderr.read()


SIGINT_BIT = 1 << (signal.SIGINT - 1)


@pytest.mark.real
def test_the_commands_run_pulumi_with_interrupts_at_their_default(tmp_path: Path) -> None:
    # The real pulumi, behind a probe that first writes down the signals it starts ignoring.
    probe = tmp_path / "bin" / "pulumi"
    probe.parent.mkdir()
    record, pulumi = shlex.quote(str(tmp_path / "ignored")), shlex.quote(shutil.which("pulumi"))
    probe.write_text(f'#!/bin/sh\ngrep SigIgn /proc/$$/status >> {record}\nexec {pulumi} "$@"\n')
    probe.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{probe.parent}{os.pathsep}{os.environ['PATH']}",
        "MODELPACK_BACKEND_URL_SIGNALS": (tmp_path / "backend").as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
    }
    (tmp_path / "backend").mkdir()
    subprocess.run(
        [shutil.which("modelpack") or "modelpack", "list", "-w", "signals"],
        env=env,
        capture_output=True,
        preexec_fn=ignore_interrupt,
    )
    masks = [int(line.split()[1], 16) for line in (tmp_path / "ignored").read_text().splitlines()]
    assert masks and not any(mask & SIGINT_BIT for mask in masks), masks


def timed_pulumi(stack: Stack, *args: str, **popen: object) -> float:
    """Seconds `pulumi <args>` took on the stack."""
    started = time.monotonic()
    subprocess.run(
        ["pulumi", *args, "--stack", stack.name, "--non-interactive"],
        cwd=stack.project_dir,
        env=stack.env,
        check=True,
        capture_output=True,
        **popen,
    )
    return time.monotonic() - started


@pytest.mark.real
def test_a_preview_started_with_interrupts_ignored_takes_no_longer(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: signals\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("import pulumi\n\npulumi.export('answer', 42)\n")
    stack = Stack(tmp_path, tmp_path / "backend", "signals")
    stack.init()
    reference = timed_pulumi(stack, "preview")
    ignored = timed_pulumi(stack, "preview", preexec_fn=ignore_interrupt)
    print(f"pulumi preview: {reference:.2f} s; started with SIGINT ignored: {ignored:.2f} s")
    assert ignored < reference + CLI_KILL_GRACE_S / 2
