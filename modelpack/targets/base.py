"""The target seam: what runs, as plain typed values, and the one interface a target implements
to turn them into resources.

Components (components/) describe images, replicas with their limits and probes, routers with
their keys and ports, and traffic tables; a target decides where and how they run. The Docker
target (modelpack/targets/docker) is the default. Adding a target is a module implementing
`Target` and one entry in `modelpack.targets.TARGETS`; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pulumi


class BaseImageError(Exception):
    """A base image the checks need is missing or unusable."""


@dataclass(frozen=True)
class ImageBuild:
    """An image built from a context folder holding a Dockerfile."""

    tag: str
    context: pulumi.Input[str]
    build_args: dict[str, str] = field(default_factory=dict)
    labels: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    """Named content hashes that decide the image; a preview names the ones that changed."""


@dataclass(frozen=True)
class BuiltImage:
    image_id: pulumi.Output[str]
    size_bytes: pulumi.Output[int]


@dataclass(frozen=True)
class ImagePush:
    """A built image pushed to the workspace's registry under `repository:tag`."""

    image_id: pulumi.Input[str]
    repository: pulumi.Input[str]
    tag: str
    registry: pulumi.Input[dict[str, Any]]
    """`{root, port}` of the workspace's registry (see image_registry.RegistrySpec.of)."""


@dataclass(frozen=True)
class PulledImage:
    image_id: pulumi.Output[str]
    reference: pulumi.Output[str]
    """The digest reference, known once it is pulled."""
    labels: pulumi.Output[dict[str, str]]


@dataclass(frozen=True)
class Mount:
    source: pulumi.Input[str]
    """A folder of this machine (a registered model version)."""
    target: str
    read_only: bool = True
    owner: int | None = None
    """A folder the replicas write to: made when missing, and owned by this user id (the
    package's user)."""


@dataclass(frozen=True)
class Probe:
    """An HTTP probe (Azure ML's probe settings: seconds and counts)."""

    port: int
    path: str
    timeout_s: float = 2.0
    initial_delay_s: float = 0.0
    period_s: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1


@dataclass(frozen=True)
class Autoscale:
    """Azure ML's `target_utilization` scale settings."""

    min_replicas: int
    max_replicas: int
    target_cpu_percent: int
    polling_interval_s: int


@dataclass(frozen=True)
class ReplicaSet:
    """`count` replicas of one image: a deployment's compute."""

    name: str
    """`mp-<stack>-<endpoint>-<deployment>`: replicas are named after it."""
    image: pulumi.Input[str]
    count: int
    env: dict[str, str]
    labels: dict[str, str]
    network: pulumi.Input[str]
    mounts: list[Mount]
    cpus: float
    memory_mb: int
    readiness: Probe
    ready_timeout_s: float
    """A replica not ready within this fails the `up`; the ones it replaces keep serving."""
    stop_grace_s: int
    instance_type: str | None = None
    """The Azure VM size the replicas stand for: targets with node pools place them there."""
    autoscale: Autoscale | None = None
    """Between min and max replicas by CPU use instead of `count` (targets that autoscale)."""
    cpu_request: float | None = None
    """Cores each replica is scheduled by, on targets that schedule (None: their default)."""
    memory_request_mb: int | None = None
    liveness: Probe | None = None
    """A replica failing this is restarted (targets without probes of their own supervise
    liveness inside the replica: the server's WORKER_TIMEOUT)."""
    egress: bool = True
    """False: the replicas run on the endpoint's isolated network, and their server deletes
    their route out as it starts (the target gives it what that takes: `targets.egress`)."""


@dataclass(frozen=True)
class Replicas:
    names: pulumi.Output[list[str]]
    servers: pulumi.Output[list[str]]
    """`host:port` of each replica (or of a balancer in front of them: see
    `Target.balanced_servers`), as the endpoint's router reaches it."""


@dataclass(frozen=True)
class RouterSpec:
    endpoint: str
    stack: str
    labels: dict[str, str]
    network: pulumi.Input[str]
    state_dir: Path
    router_port: int
    """modelpack:routerPort: the stack's first router port (0: any free port)."""
    preferred_port: int
    """The port to take when the endpoint is created, if no other endpoint holds it."""
    bootstrap_conf: str
    """The configuration the router starts from, before its first traffic table."""
    base_image: str
    registry: pulumi.Input[dict[str, Any]] | None = None
    """`{root, port}` of the workspace's registry, for targets that pull the router's image."""
    registry_address: pulumi.Input[str] | None = None
    """`127.0.0.1:<port>` of that registry."""
    isolated_network: pulumi.Input[str] | None = None
    """A network with no route out, which the router joins as well, for deployments whose
    egress is disabled (None: the endpoint has none)."""


@dataclass(frozen=True)
class Router:
    router_id: pulumi.Output[str]
    base_url: pulumi.Output[str]
    """`http://127.0.0.1:<port>`: what clients call."""
    config_dir: Path


@dataclass(frozen=True)
class TrafficTable:
    """A rendered router configuration to apply to a live router."""

    endpoint: str
    router: Router
    conf: pulumi.Input[str]
    """Secret: it holds the endpoint's keys."""
    version: pulumi.Input[str]
    summary: str
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]


class TargetUnavailable(Exception):
    """The target's engine does not answer; the message says what to do."""


@dataclass(frozen=True)
class WorkloadState:
    """A router or replica as the command shows it."""

    name: str
    state: str
    """running, restarting, exited (code n), ... or `missing`."""
    restarts: int = 0
    replica: str = ""
    """The replica's index, for a replica."""


class Runtime(Protocol):
    """What the `modelpack` command reads of a deployed stack where it runs."""

    def state(self, name: str) -> WorkloadState:
        """The workload named `name` (state `missing` when it does not exist)."""
        ...

    def labelled(self, stack: str, endpoint: str, role: str) -> list[WorkloadState]:
        """Every workload of the stack's endpoint with that role (`router`, `replica`)."""
        ...

    def logs(self, name: str, lines: int) -> str | None:
        """The last `lines` lines the workload wrote; None when it does not exist."""
        ...


class Target(Protocol):
    """Turns what runs into resources, each parented by `opts` to the calling component."""

    name: str
    autoscales: bool
    """Whether `ReplicaSet.autoscale` is honoured (else a deployment asking for it is an
    error before anything is declared)."""
    balanced_servers: bool
    isolates_egress: bool
    """Whether `network(isolated=True)` gives a network with no way out (else a deployment
    with egress disabled is an error before anything is declared)."""
    """Whether `Replicas.servers` are balancers over the replicas (a Kubernetes Service)
    rather than the replicas themselves."""

    def network(
        self,
        resource_name: str,
        name: str,
        labels: dict[str, str],
        opts: pulumi.ResourceOptions,
        isolated: bool = False,
    ) -> pulumi.Output[str]:
        """A network that an endpoint's router and replicas share; its name. An `isolated`
        one has no route out (for replicas whose egress is disabled)."""
        ...

    def image(
        self, resource_name: str, build: ImageBuild, opts: pulumi.ResourceOptions
    ) -> BuiltImage: ...

    def push(
        self, resource_name: str, push: ImagePush, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        """The pushed image's digest reference, `<registry>/<repository>@sha256:...`."""
        ...

    def pull(
        self,
        resource_name: str,
        reference: str,
        registry: pulumi.Input[dict[str, Any]],
        opts: pulumi.ResourceOptions,
    ) -> PulledImage: ...

    def replicas(
        self, resource_name: str, spec: ReplicaSet, opts: pulumi.ResourceOptions
    ) -> Replicas: ...

    def router(
        self, resource_name: str, spec: RouterSpec, opts: pulumi.ResourceOptions
    ) -> Router: ...

    def traffic(
        self, resource_name: str, table: TrafficTable, opts: pulumi.ResourceOptions
    ) -> pulumi.Resource:
        """Applies `table` to the live router (created or updated once its inputs are ready)."""
        ...

    def python_version(self, image: str) -> str:
        """The Python version inside a base image (checks run before anything is declared)."""
        ...

    def runtime(self) -> Runtime:
        """A connection to where the stack runs, for the command; raises TargetUnavailable."""
        ...
