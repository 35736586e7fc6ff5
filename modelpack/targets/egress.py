"""What a target gives a replica whose egress is disabled, so that the injected server can
delete its route out as it starts (`inference_server.egress`): root to start with, three
capabilities, and the server's settings. The server gives all of it up before it serves."""

from __future__ import annotations

from collections.abc import Sequence

from modelpack.builds.layout import USER_ID

START_AS_USER = 0
CAPABILITIES = ("NET_ADMIN", "SETUID", "SETGID")


def server_env(allowed_networks: Sequence[str] = ()) -> dict[str, str]:
    """The server's EGRESS_* settings; `allowed_networks` keep a route (a cluster's pods)."""
    env = {"EGRESS_DISABLED": "true", "SERVER_USER_ID": str(USER_ID)}
    if allowed_networks:
        env["EGRESS_ALLOWED_NETWORKS"] = ",".join(allowed_networks)
    return env
