"""The endpoint router's configuration, rendered from a traffic table (nginx)."""

from .config import (
    RouterConfig,
    RouterConfigError,
    Upstream,
    render_closed_conf,
    render_nginx_conf,
)

__all__ = [
    "RouterConfig",
    "RouterConfigError",
    "Upstream",
    "render_closed_conf",
    "render_nginx_conf",
]
