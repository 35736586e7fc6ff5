"""What a container runs with now, in the terms of the Container resource's inputs.

`refresh` reads these back so that drift made by hand (a stopped container, `docker update
--cpus`, a container replaced under the same name with another image or env) shows in the
diff and the next `up` repairs it. A live value equivalent to the recorded input is returned as
the input itself, so that a container nobody touched reads back unchanged.
"""

from __future__ import annotations

from typing import Any

import docker.errors

from .client import engine

NANO = 1_000_000_000
MIB = 1024 * 1024

STARTABLE_STATES = frozenset({"created", "exited", "paused"})
"""Container states `up` repairs by starting (or unpausing) the same container."""
BROKEN_STATES = frozenset({"dead", "removing"})
"""States `up` repairs by replacing the container."""


def live_inputs(container: Any, props: dict[str, Any]) -> dict[str, Any]:
    """The inputs `props` recorded, as the container has them now: image, env, cpus,
    memory_mb and pids_limit."""
    attrs = container.attrs
    config, host = attrs["Config"], attrs["HostConfig"]
    return {
        "image": _image(props.get("image"), config["Image"], attrs["Image"]),
        "env": _owned_env(config.get("Env") or [], attrs["Image"], props.get("env") or {}),
        "cpus": _scaled(props.get("cpus"), host.get("NanoCpus"), NANO),
        "memory_mb": _scaled(props.get("memory_mb"), host.get("Memory"), MIB),
        "pids_limit": _scaled(props.get("pids_limit"), host.get("PidsLimit"), 1),
    }


def _image(recorded: str | None, reference: str, image_id: str) -> str:
    """The recorded reference while it still names the image the container runs, else the
    reference the container was created with."""
    if recorded is None:
        return reference
    if recorded in (reference, image_id):
        return recorded
    try:
        if engine().api.inspect_image(recorded)["Id"] == image_id:
            return recorded
    except docker.errors.DockerException:
        pass
    return reference


def _env_dict(entries: list[str]) -> dict[str, str]:
    return dict(entry.split("=", 1) if "=" in entry else (entry, "") for entry in entries)


def _owned_env(entries: list[str], image_id: str, wanted: dict[str, str]) -> dict[str, str]:
    """The container's variables less those its image sets (unless the resource sets them
    too): what the resource's `env` input describes."""
    try:
        image_env = _env_dict(engine().api.inspect_image(image_id)["Config"].get("Env") or [])
    except docker.errors.DockerException:
        image_env = {}
    live = _env_dict(entries)
    return {
        name: value
        for name, value in live.items()
        if name in wanted or image_env.get(name) != value
    }


def _scaled(recorded: float | None, live: int | None, unit: int) -> float | None:
    """A limit Docker keeps in `unit`s (0, -1 or absent: none), as the recorded input."""
    live_units = live if live and live > 0 else 0
    recorded_units = int(recorded * unit) if recorded else 0
    if live_units == recorded_units:
        return recorded
    if not live_units:
        return None
    return live_units / unit if unit != 1 else live_units
