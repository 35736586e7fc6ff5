"""Workspaces side by side: two stacks deploy the same asset folder on one machine, each with
its own state folder, backend, registry and router; packages are pushed to the workspace's
registry and replicas run them by digest; destroying one workspace leaves the other serving.
"""

from __future__ import annotations

import json

import docker
import pytest

from modelpack.cli.endpoints import invoke
from modelpack.image_registry import manifest_exists, parse_reference, probe
from tests.support.deployed import DeployedWorkspace, deployed_workspace
from tests.support.project import PORTABLE_PACKAGE

pytestmark = pytest.mark.real


def sample(workspace) -> bytes:
    return (workspace / "sample-request.json").read_bytes()


def test_two_workspaces_side_by_side_then_one_destroyed(
    portable_dev: DeployedWorkspace, tmp_path
) -> None:
    dev = portable_dev
    body = sample(dev.workspace)
    client = docker.from_env()
    with deployed_workspace(tmp_path, "side", workspace=dev.workspace) as other:
        # Same asset folder, separate state folders and backends.
        assert other.workspace == dev.workspace
        assert other.state_dir != dev.state_dir
        assert other.stack.backend_dir != dev.stack.backend_dir
        assert (other.state_dir / "registry" / "data").is_dir()

        # Each has its own registry, answering with its own identity, holding its own push.
        packages = {ws.name: ws.outputs()["packages"][PORTABLE_PACKAGE] for ws in (dev, other)}
        registries = {ws.name: ws.outputs()["registry"]["address"] for ws in (dev, other)}
        assert registries[dev.name] != registries[other.name]
        for ws in (dev, other):
            assert probe(ws.registry_port) == ws.registry.identity
            reference = parse_reference(packages[ws.name]["digest"])
            assert reference.address == registries[ws.name]
            assert manifest_exists(reference.address, reference.repository, reference.digest)

        # Same asset folder, same content hashes (the images themselves may differ: a build
        # that misses Docker's cache writes new layer timestamps, hence another digest).
        assert packages[dev.name]["hashes"] == packages[other.name]["hashes"]

        # Replicas run the package by digest from their own workspace's registry; names,
        # networks and router ports do not clash.
        for ws in (dev, other):
            replica = ws.replica("blue")
            assert replica.attrs["Config"]["Image"] == packages[ws.name]["digest"]
            assert replica.name.startswith(f"mp-{ws.name}-")
        networks = {ws.name: client.networks.list(names=[f"mp-{ws.name}-"]) for ws in (dev, other)}
        assert all(len(found) == 1 for found in networks.values())
        endpoints = {ws.name: ws.endpoint() for ws in (dev, other)}
        assert endpoints[dev.name].scoring_uri != endpoints[other.name].scoring_uri

        # Both serve the same answers.
        answers = {}
        for ws in (dev, other):
            answer = invoke(endpoints[ws.name], body, ws.name)
            assert answer.status == 200, answer.body
            answers[ws.name] = json.loads(answer.body)
        assert answers[dev.name] == answers[other.name]
    # Leaving the block destroyed `other` and checked that nothing of it is left (containers,
    # network, images, registry process). dev keeps serving, its registry keeps answering.
    for deployment in ("blue", "green"):
        answer = invoke(dev.endpoint(), body, dev.name, deployment=deployment)
        assert (answer.status, answer.deployment) == (200, deployment), answer.body
    assert probe(dev.registry_port) == dev.registry.identity
