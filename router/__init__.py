"""The endpoint router's configuration, rendered from a traffic table (nginx)."""

from .config import RouterConfig, Upstream, render_nginx_conf

__all__ = ["RouterConfig", "Upstream", "render_nginx_conf"]
