"""A package promoted from a Docker workspace to a Kubernetes one: the cluster runs the same
digest, copied into the Kubernetes workspace's registry, without a build."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from modelpack.cli.endpoints import invoke
from modelpack.cli.promote import promote
from modelpack.targets.kubernetes.cluster import api_client, kubeconfig_path
from modelpack.targets.kubernetes.naming import namespace_for
from tests.support.deployed import DeployedWorkspace, deployed_workspace
from tests.support.project import PORTABLE_PACKAGE, copy_portable_assets

pytestmark = pytest.mark.real

BUILDS = ("pulumi-python:dynamic/docker:Image", "pulumi-python:dynamic/registry:ModelVersion")


def test_a_package_promoted_from_docker_runs_on_the_cluster_by_the_same_digest(
    portable_dev: DeployedWorkspace, tmp_path
) -> None:
    dev = portable_dev
    folder = copy_portable_assets(tmp_path / "staging-workspace")
    with deployed_workspace(
        tmp_path / "staging",
        "kstg",
        workspace=folder,
        up=False,
        **{"modelpack:target": "kubernetes"},
    ) as staging:
        done = promote(dev.runner(), staging.runner(), PORTABLE_PACKAGE)
        preview = staging.preview()
        built = [
            step["urn"]
            for step in preview["steps"]
            if step["op"] in ("create", "replace")
            and any(f"::{kind}::" in step["urn"] for kind in BUILDS)
            and "router-image" not in step["urn"]
        ]
        assert built == []
        staging.up()

        apps = client.AppsV1Api(api_client(kubeconfig_path()))
        namespace = namespace_for(staging.name)
        for deployment in ("blue", "green"):
            found = apps.read_namespaced_deployment(
                f"sklearn-regression-online-{deployment}", namespace
            )
            assert found.spec.template.spec.containers[0].image == done.target
            assert found.status.ready_replicas == 1

        body = (staging.workspace / "sample-request.json").read_bytes()
        answers = [invoke(ws.endpoint(), body, ws.name, deployment="blue") for ws in (dev, staging)]
        assert all(answer.status == 200 for answer in answers), [a.body for a in answers]
        assert json.loads(answers[0].body) == json.loads(answers[1].body)
        staging.stack.run("preview", "--expect-no-changes")
