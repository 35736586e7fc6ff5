"""Pod templates of the Kubernetes target (modelpack/targets/kubernetes/workloads.py)."""

from __future__ import annotations

from modelpack.targets.base import Probe
from modelpack.targets.kubernetes.workloads import (
    DRAIN_S,
    WORKLOAD_LABEL,
    deployment_spec,
    hardened_container,
    pod_template,
    probe,
    resources,
)


def test_probes_carry_azure_mls_seconds_and_counts() -> None:
    spec = Probe(
        port=5001,
        path="/readyz",
        timeout_s=2.5,
        initial_delay_s=10,
        period_s=10,
        failure_threshold=3,
        success_threshold=1,
    )
    assert probe(spec) == {
        "http_get": {"path": "/readyz", "port": 5001},
        "initial_delay_seconds": 10,
        "period_seconds": 10,
        "timeout_seconds": 3,
        "failure_threshold": 3,
        "success_threshold": 1,
    }


def test_limits_are_the_instance_type_and_requests_a_tenth() -> None:
    assert resources(2.0, 4096) == {
        "limits": {"cpu": "2", "memory": "4Gi"},
        "requests": {"cpu": "200m", "memory": "410Mi"},
    }
    tiny = resources(0.05, 100)
    assert tiny["limits"] == {"cpu": "50m", "memory": "100Mi"}
    assert tiny["requests"] == {"cpu": "10m", "memory": "32Mi"}


def test_containers_are_hardened_and_drain_before_they_stop() -> None:
    container = hardened_container(
        "server", "img", port=5001, env={"B": "2", "A": "1"}, readiness={"x": 1}
    )
    assert container["security_context"] == {
        "allow_privilege_escalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "read_only_root_filesystem": True,
    }
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert container["lifecycle"] == {"pre_stop": {"sleep": {"seconds": DRAIN_S}}}
    assert {"name": "scratch", "mount_path": "/tmp"} in container["volume_mounts"]
    assert "liveness_probe" not in container

    template = pod_template({WORKLOAD_LABEL: "blue"}, container, stop_grace_s=12)
    spec = template["spec"]
    assert spec["termination_grace_period_seconds"] == 12 + DRAIN_S
    assert spec["automount_service_account_token"] is False
    assert spec["security_context"] == {"seccomp_profile": {"type": "RuntimeDefault"}}
    assert {"name": "scratch", "empty_dir": {"medium": "Memory"}} in spec["volumes"]
    # Kubernetes's own toleration of a lost node unless one is given.
    assert "tolerations" not in spec
    assert spec["topology_spread_constraints"][0]["label_selector"] == {
        "match_labels": {WORKLOAD_LABEL: "blue"}
    }
    tolerant = pod_template(
        {WORKLOAD_LABEL: "blue"}, container, stop_grace_s=12, node_loss_toleration_s=7
    )
    assert {t["toleration_seconds"] for t in tolerant["spec"]["tolerations"]} == {7}


def test_a_rollout_never_goes_below_the_wanted_replicas() -> None:
    spec = deployment_spec("blue", 3, {"metadata": {}})
    assert spec["replicas"] == 3
    assert spec["strategy"]["rolling_update"] == {"max_surge": 1, "max_unavailable": 0}
    assert spec["selector"] == {"match_labels": {"modelpack.workload": "blue"}}
