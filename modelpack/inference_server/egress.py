"""Taking a replica's route out away before it serves (a deployment's egress disabled).

A target runs such a replica's server as root with only ``NET_ADMIN``, ``SETUID`` and
``SETGID``. Before anything else, the server deletes every default route, keeping routes to the
networks it must still answer (``EGRESS_ALLOWED_NETWORKS``, a cluster's pod network) through
the same gateway, then becomes the package's user: leaving root clears every capability, so
neither the server nor the model's code can put a route back. It runs on every start of the
replica, since a container engine restores the default route when it restarts one.

Any failure stops the server: a replica asked to have no way out never serves with one.
"""

from __future__ import annotations

import logging
import os
import pwd
import socket
from collections.abc import Iterable
from typing import Any

from .settings import EgressSettings

logger = logging.getLogger("inference.egress")

FAMILIES = (socket.AF_INET, socket.AF_INET6)


class EgressError(RuntimeError):
    """The route out could not be taken away, or the server could not give up root."""


def disable_egress(settings: EgressSettings) -> None:
    if os.geteuid() != 0:
        raise EgressError(
            "EGRESS_DISABLED needs the server to start as root with NET_ADMIN, SETUID and "
            f"SETGID (it runs as uid {os.geteuid()}); the target starts such replicas so"
        )
    try:
        removed = remove_default_routes(settings.allowed_networks)
        become_user(settings.user_id)
    except ImportError as exc:
        raise EgressError(f"pyroute2 cannot be imported: {exc}") from exc
    except OSError as exc:
        raise EgressError(f"{exc} (a capability missing?)") from exc
    logger.info(
        "egress disabled: default routes removed, now uid %d",
        settings.user_id,
        extra={"fields": {"removed": removed, "kept": list(settings.allowed_networks)}},
    )


def remove_default_routes(allowed_networks: Iterable[str] = ()) -> list[str]:
    """Delete the default routes of both families, adding a route to each IPv4 network of
    `allowed_networks` through the removed route's gateway first; what was removed."""
    from pyroute2 import IPRoute  # imported here: only replicas without egress need it
    from pyroute2.netlink.exceptions import NetlinkError

    allowed = list(allowed_networks)
    removed = []
    try:
        with IPRoute() as ip:
            for family in FAMILIES:
                for route in _defaults(ip, family):
                    gateway = route.get_attr("RTA_GATEWAY")
                    device = route.get_attr("RTA_OIF")
                    if family == socket.AF_INET and gateway:
                        for network in allowed:
                            ip.route("replace", dst=network, gateway=gateway, oif=device)
                    ip.route(
                        "del",
                        family=family,
                        dst="0.0.0.0/0" if family == socket.AF_INET else "::/0",
                        gateway=gateway,
                        oif=device,
                        table=route.get_attr("RTA_TABLE") or route["table"],
                    )
                    removed.append(f"default via {gateway or 'link'} (interface {device})")
            left = [r for family in FAMILIES for r in _defaults(ip, family)]
    except NetlinkError as exc:
        raise EgressError(f"cannot change the replica's routes: {exc}") from exc
    if left:
        raise EgressError(f"{len(left)} default route(s) are still there after removing them")
    return removed


def _defaults(ip: Any, family: int) -> list[Any]:
    """The routes to anywhere (prefix length 0) of `family`, in every routing table."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        routes = ip.get_routes(family=family)
    except NetlinkError:  # the family is not enabled in this kernel
        return []
    return [route for route in routes if route["dst_len"] == 0 and route["type"] == 1]


def become_user(user_id: int) -> None:
    """Give up root for `user_id` (and its group), with no capability left."""
    try:
        entry = pwd.getpwuid(user_id)
        group_id, home = entry.pw_gid, entry.pw_dir
    except KeyError:  # no passwd entry: the uid's own number as its group
        group_id, home = user_id, "/"
    os.setgroups([])
    os.setgid(group_id)
    os.setuid(user_id)
    os.environ["HOME"] = home
    if _effective_capabilities() != 0:
        raise EgressError("capabilities are left after giving up root")


def _effective_capabilities() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0
