"""The graph `build_graph` declares for the example workspace, under Pulumi mocks: which
resources, parented to which component, with which inputs. Fast (no engine, nothing built);
the real path is proven by the *_real tests."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest

from modelpack import names
from tests.support.graph_mocks import DIGEST, all_declared, declare, unsecret

ENDPOINT = "sklearn-regression-online"


@pytest.fixture
def declared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(mocks, graph) of the example asset folder declared under mocks."""
    return declare(tmp_path, monkeypatch)


def urn_of(resource: pulumi.Resource) -> pulumi.Output[str]:
    return resource.urn


@pulumi.runtime.test
def test_one_component_per_asset_with_its_type_token(declared):
    mocks, graph = declared
    assert set(graph.models) == {"sklearn-regression:auto"}
    assert set(graph.environments) == {"sklearn-regression-env:auto"}
    # blue deploys a package spec; green is packaged from its model, code and environment.
    assert set(graph.packages) == {
        "sklearn-regression-online-pkg",
        "sklearn-regression-docker-pkg",
        "sklearn-regression-online-green-pkg",
    }
    assert set(graph.endpoints) == {ENDPOINT}
    assert set(graph.deployments[ENDPOINT]) == {"blue", "green"}
    components = [
        graph.models["sklearn-regression:auto"],
        graph.environments["sklearn-regression-env:auto"],
        *graph.packages.values(),
        graph.endpoints[ENDPOINT],
        *graph.deployments[ENDPOINT].values(),
        graph.traffic[ENDPOINT],
    ]

    def check(urns: list[str]) -> None:
        tokens = sorted(urn.split("::")[2].rsplit("$", 1)[-1] for urn in urns)
        assert tokens == sorted(
            [
                names.MODEL,
                names.ENVIRONMENT,
                names.MODEL_PACKAGE,
                names.MODEL_PACKAGE,
                names.MODEL_PACKAGE,
                names.ENDPOINT,
                names.DEPLOYMENT,
                names.DEPLOYMENT,
                names.TRAFFIC,
            ]
        )

    return pulumi.Output.all(*[urn_of(c) for c in components]).apply(check)


@pulumi.runtime.test
def test_target_resources_are_named_after_their_component(declared):
    mocks, graph = declared

    def check(_) -> None:
        # Replicas are containers named after their deployment; routers after their endpoint.
        assert set(mocks.of_kind("Container")) == {
            f"{ENDPOINT}-blue-0",
            f"{ENDPOINT}-green-0",
            f"{ENDPOINT}-router",
        }
        assert set(mocks.of_kind("Network")) == {f"{ENDPOINT}-network"}
        assert set(mocks.of_kind("RouterPort")) == {f"{ENDPOINT}-router-port"}
        assert set(mocks.of_kind("Keys")) == {f"{ENDPOINT}-keys"}
        assert set(mocks.of_kind("Traffic")) == {f"{ENDPOINT}-traffic-router-config"}
        assert set(mocks.of_kind("ModelVersion")) == {"sklearn-regression-version"}
        assert set(mocks.of_kind("ImageRegistry")) == {"registry"}

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_the_router_configuration_is_a_child_of_its_traffic_component(declared):
    _, graph = declared

    def check(urn: str) -> None:
        assert f"{names.TRAFFIC}$pulumi-python:dynamic/endpoint:Traffic::" in urn, urn

    return graph.traffic[ENDPOINT].router_config.urn.apply(check)


@pulumi.runtime.test
def test_replicas_carry_their_package_limits_probe_and_model_mount(declared):
    mocks, graph = declared

    def check(_) -> None:
        blue = mocks.resources[f"{ENDPOINT}-blue-0"].inputs
        green = mocks.resources[f"{ENDPOINT}-green-0"].inputs
        assert blue["image"].endswith(f"/sklearn-regression-online-pkg@{DIGEST}")
        assert blue["name"] == f"mp-mock-{ENDPOINT}-blue-0"
        assert blue["labels"][names.LABEL_DEPLOYMENT] == "blue"
        assert blue["labels"][names.LABEL_ROLE] == names.ROLE_REPLICA
        assert blue["readiness"]["path"] == "/readyz"
        assert blue["readiness"]["port"] == names.SERVER_PORT
        assert blue["cpus"] > 0 and blue["memory_mb"] > 0
        # blue deploys the readonly_mount package: the registered model is mounted read-only.
        (mount,) = blue["mounts"]
        assert mount["read_only"] and mount["source"].endswith("models/sklearn-regression/1")
        assert green["image"].endswith(f"/sklearn-regression-online-green-pkg@{DIGEST}")
        assert blue["cap_drop"] == ["ALL"] and blue["read_only_root"] is True

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_traffic_table_names_every_replica_and_the_split(declared):
    mocks, graph = declared

    def check(_) -> None:
        traffic = mocks.resources[f"{ENDPOINT}-traffic-router-config"].inputs
        conf = unsecret(traffic["conf"])
        assert traffic["traffic"] == {"blue": 80, "green": 20}
        assert traffic["router_id"] == f"id-{ENDPOINT}-router"
        assert f"mp-mock-{ENDPOINT}-blue-0:{names.SERVER_PORT}" in conf
        assert f"mp-mock-{ENDPOINT}-green-0:{names.SERVER_PORT}" in conf
        assert "a" * 43 in conf and "b" * 43 in conf  # both keys are accepted
        assert len(traffic["version"]) == 16

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_package_images_are_pushed_to_the_workspace_registry(declared):
    mocks, graph = declared

    def check(_) -> None:
        pushes = mocks.of_kind("RegistryImage")
        assert set(pushes) == {f"{name}-push" for name in graph.packages}
        for push in pushes.values():
            assert push.inputs["repository"].startswith("127.0.0.1:18500/")
            assert json.loads(json.dumps(push.inputs["registry"]))["port"] == 18500

    return all_declared(graph).apply(check)
