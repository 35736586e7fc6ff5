"""Registry: the workspace's own image registry (Docker Distribution on a loopback port).

Package images are pushed here after they are built, and deployments run them by digest from
here; `modelpack promote` copies an image by digest from one workspace's registry to
another's.

The stack starts it (rather than the CLI before `up`) because it is part of what a workspace
deploys: a bare `pulumi up -s <ws>` (tests, CI, users without our CLI) then yields a working
workspace, `pulumi preview` shows it, and `pulumi destroy` stops it with everything else, so
its lifetime is the stack's. It is a process, not a container, so it needs no image and
answers at once. Its storage (`.state/<ws>/registry/data`) outlives a destroy: images are
immutable artefacts, and a promoted digest stays resolvable after a destroy and a new `up`.

After a reboot the process is gone while the state still lists it: the push and pull
resources start it again before using it (same port, same storage), and `pulumi refresh`
sees that it does not answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from modelpack.image_registry import RegistrySpec, ensure_running, probe, stop

from .diff import diff_inputs, props_of
from .progress import report


def _spec(props: dict[str, Any], port_key: str) -> RegistrySpec:
    return RegistrySpec(Path(props["root"]), int(props.get(port_key) or 0))


class RegistryProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = _spec(props, "requested_port")
        running = ensure_running(spec)
        verb = "started" if running.started else "adopted the running"
        report(f"{verb} registry on {running.address} (storage {spec.data_dir})")
        outputs = {"port": running.port, "address": running.address, "pid": running.pid}
        return CreateResult(f"registry-{running.address}", {**props, **outputs})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Stop the old one first: the new one may want the same port.
        return diff_inputs(RegistryArgs, olds, news, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        spec = _spec(props, "port")
        if not spec.port or probe(spec.port) != spec.identity:
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        spec = _spec(props, "port")
        stopped = stop(spec)
        if stopped:
            report(f"stopped registry {props.get('address')} (pid {', '.join(map(str, stopped))})")


@dataclass
class RegistryArgs:
    root: str
    """`.state/<ws>/registry`: config, storage, log and pid file."""
    requested_port: int = 0
    """modelpack:registryPort (0: any free port, picked when it is first started)."""


class Registry(Resource, module="registry", name="ImageRegistry"):
    port: pulumi.Output[int]
    address: pulumi.Output[str]
    """`127.0.0.1:<port>`: the registry part of every image reference of this workspace."""
    pid: pulumi.Output[int]

    def __init__(
        self, resource_name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = props_of(args, port=None, address=None, pid=None)
        super().__init__(RegistryProvider(), resource_name, props, opts)
        # After the super call: a dynamic resource turns every prop into an Output attribute.
        self.root_dir, self.requested_port = args.root, args.requested_port

    @property
    def known_address(self) -> pulumi.Input[str]:
        """`127.0.0.1:<port>`, known before the registry exists when the port is fixed, so a
        registry started again (after a reboot and a refresh) does not make every image
        reference unknown in the preview (and every replica look replaced)."""
        return f"127.0.0.1:{self.requested_port}" if self.requested_port else self.address

    @property
    def spec(self) -> pulumi.Input[dict[str, Any]]:
        """{"root", "port"}: what the push and pull resources need to reach (or restart) it.
        Resources using it also `depends_on` the registry, which orders creates and deletes."""
        if self.requested_port:
            return {"root": self.root_dir, "port": self.requested_port}
        return self.port.apply(lambda port: {"root": self.root_dir, "port": port})
