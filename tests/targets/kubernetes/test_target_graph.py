"""The example workspace declared on the Kubernetes target under Pulumi mocks: which objects,
in which namespace, with which specs (fast; test_target_real.py proves them on a cluster)."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from modelpack import names
from modelpack.router.config import BALANCED_SERVER_PICKS
from modelpack.targets.egress import CAPABILITIES
from modelpack.targets.kubernetes.target import DEFAULT_NODE_LOSS_TOLERATION_S, DEFAULT_POD_NETWORK
from tests.support.graph_mocks import (
    CLUSTER_IP,
    DIGEST,
    NODE_PORT,
    RecordingMocks,
    all_declared,
    declare,
    unsecret,
)

ENDPOINT = "sklearn-regression-online"
NAMESPACE = "modelpack-mock"


@pytest.fixture
def declared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    return declare(tmp_path, monkeypatch, target="kubernetes")


def k8s(mocks: RecordingMocks, kind: str) -> dict[str, dict]:
    """The inputs of the Kubernetes objects of one kind, by object name."""
    return {
        resource.inputs["metadata"].get("name", name): resource.inputs
        for name, resource in mocks.resources.items()
        if resource.typ.startswith("kubernetes:") and resource.typ.endswith(f":{kind}")
    }


@pulumi.runtime.test
def test_one_namespace_per_workspace_holds_every_object(declared):
    mocks, graph = declared

    def check(_) -> None:
        (namespace,) = k8s(mocks, "Namespace").values()
        assert namespace["metadata"]["name"] == NAMESPACE
        assert namespace["metadata"]["labels"][names.LABEL_STACK] == "mock"
        for kind in ("Deployment", "Service", "Secret"):
            for name, inputs in k8s(mocks, kind).items():
                assert inputs["metadata"]["namespace"] == NAMESPACE, (kind, name)
        # No Docker container or network: images only, built and pushed.
        assert mocks.of_kind("Container") == {} and mocks.of_kind("Network") == {}

    def parented_to_the_stack(urn: str) -> None:
        # Not to the endpoint that declared it first: removing that endpoint keeps it.
        assert urn.endswith("pulumi:pulumi:Stack$kubernetes:core/v1:Namespace::namespace"), urn

    return pulumi.Output.all(all_declared(graph), graph.target.namespace.urn).apply(
        lambda values: (check(values[0]), parented_to_the_stack(values[1]))
    )


@pulumi.runtime.test
def test_each_deployment_is_a_rolling_deployment_behind_a_cluster_ip(declared):
    mocks, graph = declared

    def check(servers: list) -> None:
        deployments = k8s(mocks, "Deployment")
        assert set(deployments) == {f"{ENDPOINT}-blue", f"{ENDPOINT}-green", f"{ENDPOINT}-router"}
        blue = deployments[f"{ENDPOINT}-blue"]
        assert blue["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
        spec = blue["spec"]
        assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
        (container,) = spec["template"]["spec"]["containers"]
        assert container["image"].endswith(f"/sklearn-regression-online-pkg@{DIGEST}")
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 5001}
        assert container["livenessProbe"]["httpGet"] == {"path": "/", "port": 5001}
        # blue deploys the readonly_mount package: the registered model, read-only.
        mount = next(m for m in container["volumeMounts"] if m["name"] == "mount-0")
        assert mount["readOnly"] is True
        services = k8s(mocks, "Service")
        assert services[f"{ENDPOINT}-blue"]["spec"]["type"] == "ClusterIP"
        assert servers == [f"{CLUSTER_IP}:{names.SERVER_PORT}"]

    servers = graph.deployments[ENDPOINT]["blue"].servers
    return pulumi.Output.all(all_declared(graph), servers).apply(lambda values: check(values[1]))


@pulumi.runtime.test
def test_the_router_reads_its_configuration_from_a_secret_behind_a_node_port(declared):
    mocks, graph = declared

    def check(scoring_uri: str) -> None:
        assert scoring_uri == f"http://127.0.0.1:{NODE_PORT}/score"
        router_service = k8s(mocks, "Service")[f"{ENDPOINT}-router"]
        assert router_service["spec"]["type"] == "NodePort"
        (secret,) = k8s(mocks, "Secret").values()
        conf = unsecret(secret["stringData"])["nginx.conf"]
        # The Service balances over the replicas: listed once per retry, never marked down.
        server = f"server {CLUSTER_IP}:{names.SERVER_PORT} max_fails=0;"
        assert conf.count(server) == 2 * BALANCED_SERVER_PICKS  # blue and green
        assert f"proxy_next_upstream_tries {BALANCED_SERVER_PICKS};" in conf
        # A kept-alive connection goes to one replica: renewed often, so new ones take load.
        assert conf.count("keepalive_time 2s;") == 1 + 2  # clients, blue, green
        router = k8s(mocks, "Deployment")[f"{ENDPOINT}-router"]
        volumes = router["spec"]["template"]["spec"]["volumes"]
        config = next(volume for volume in volumes if volume["name"] == "config")
        # The Secret is named by Pulumi (the mocks answer `<resource>-auto`): a new
        # configuration is a new Secret, which the router rolls to.
        assert "name" not in secret["metadata"]
        assert config["secret"]["secretName"] == f"{ENDPOINT}-traffic-router-config-secret-auto"
        # The traffic table is applied by the router's rollout (endpoint:Traffic, as on Docker).
        (traffic,) = mocks.of_kind("Traffic").values()
        assert traffic.inputs["traffic"] == {"blue": 80, "green": 20}
        assert traffic.inputs["deployment"] == f"{ENDPOINT}-router"

    scoring_uri = graph.endpoints[ENDPOINT].scoring_uri
    return pulumi.Output.all(all_declared(graph), scoring_uri).apply(
        lambda values: check(values[1])
    )


@pulumi.runtime.test
def test_without_node_pools_replicas_go_anywhere(declared):
    mocks, graph = declared

    def check(_) -> None:
        for name in (f"{ENDPOINT}-blue", f"{ENDPOINT}-green"):
            spec = k8s(mocks, "Deployment")[name]["spec"]["template"]["spec"]
            assert "nodeSelector" not in spec

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_replicas_and_routers_spread_over_nodes_and_leave_a_lost_one(declared):
    mocks, graph = declared

    def check(_) -> None:
        for name in (f"{ENDPOINT}-blue", f"{ENDPOINT}-green", f"{ENDPOINT}-router"):
            spec = k8s(mocks, "Deployment")[name]["spec"]["template"]["spec"]
            (spread,) = spec["topologySpreadConstraints"]
            assert spread["topologyKey"] == "kubernetes.io/hostname"
            assert spread["maxSkew"] == 1
            assert spread["labelSelector"] == {"matchLabels": {"modelpack.workload": name}}
            assert spread["matchLabelKeys"] == ["pod-template-hash"]
            tolerated = {t["key"]: t["tolerationSeconds"] for t in spec["tolerations"]}
            assert tolerated == {
                "node.kubernetes.io/unreachable": DEFAULT_NODE_LOSS_TOLERATION_S,
                "node.kubernetes.io/not-ready": DEFAULT_NODE_LOSS_TOLERATION_S,
            }
        # No node is labelled to run routers: they go anywhere.
        assert "nodeSelector" not in k8s(mocks, "Deployment")[f"{ENDPOINT}-router"]["spec"]

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_routers_run_on_router_nodes_where_the_cluster_has_them(tmp_path, monkeypatch):
    mocks, graph = declare(tmp_path, monkeypatch, target="kubernetes", router_nodes=1)

    def check(_) -> None:
        deployments = k8s(mocks, "Deployment")
        router = deployments[f"{ENDPOINT}-router"]["spec"]["template"]["spec"]
        assert router["nodeSelector"] == {"modelpack.dev/router": "true"}
        blue = deployments[f"{ENDPOINT}-blue"]["spec"]["template"]["spec"]
        assert "nodeSelector" not in blue

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_with_node_pools_each_deployment_goes_to_its_instance_type(tmp_path, monkeypatch):
    mocks, graph = declare(
        tmp_path, monkeypatch, target="kubernetes", node_pools={"Standard_F2s_v2": 1}
    )

    def check(_) -> None:
        deployments = k8s(mocks, "Deployment")
        selector = "node.kubernetes.io/instance-type"
        green = deployments[f"{ENDPOINT}-green"]["spec"]["template"]["spec"]
        assert green["nodeSelector"] == {selector: "Standard_F2s_v2"}
        blue = deployments[f"{ENDPOINT}-blue"]["spec"]["template"]["spec"]
        assert blue["nodeSelector"] == {selector: "Standard_DS3_v2"}
        rollout = mocks.resources[f"{ENDPOINT}-blue-rollout"].inputs
        assert "no node offers instance type Standard_DS3_v2" in rollout["unschedulable_hint"]
        assert rollout["unschedulable_timeout_s"] == 40  # Azure ML's readiness budget

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_target_utilization_becomes_a_cpu_autoscaler_that_owns_the_count(tmp_path, monkeypatch):
    scale = (
        "scale_settings:\n  type: target_utilization\n  min_instances: 2\n"
        "  max_instances: 5\n  target_utilization_percentage: 60\n"
    )
    mocks, graph = declare(tmp_path, monkeypatch, target="kubernetes", appended={"blue.yml": scale})

    def check(_) -> None:
        (autoscaler,) = k8s(mocks, "HorizontalPodAutoscaler").values()
        spec = autoscaler["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"{ENDPOINT}-blue",
        }
        assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 5)
        (metric,) = spec["metrics"]
        assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}
        deployments = k8s(mocks, "Deployment")
        assert "replicas" not in deployments[f"{ENDPOINT}-blue"]["spec"]  # the autoscaler's
        assert deployments[f"{ENDPOINT}-green"]["spec"]["replicas"] == 1

    return all_declared(graph).apply(check)


@pulumi.runtime.test
def test_a_deployment_without_egress_starts_as_root_to_delete_its_route_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    no_egress = {"green.yml": "egress_public_network_access: disabled\n"}
    mocks, graph = declare(tmp_path, monkeypatch, target="kubernetes", appended=no_egress)

    def check(_) -> None:
        deployments = k8s(mocks, "Deployment")
        (green,) = deployments[f"{ENDPOINT}-green"]["spec"]["template"]["spec"]["containers"]
        security = green["securityContext"]
        assert security["capabilities"] == {"drop": ["ALL"], "add": list(CAPABILITIES)}
        assert (security["runAsUser"], security["runAsNonRoot"]) == (0, False)
        assert security["allowPrivilegeEscalation"] is False
        env = {item["name"]: item["value"] for item in green["env"]}
        assert env["EGRESS_DISABLED"] == "true"
        assert env["EGRESS_ALLOWED_NETWORKS"] == DEFAULT_POD_NETWORK
        (blue,) = deployments[f"{ENDPOINT}-blue"]["spec"]["template"]["spec"]["containers"]
        assert blue["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert "runAsUser" not in blue["securityContext"]

    return all_declared(graph).apply(check)
