"""The endpoint router's configuration, rendered from a traffic table (nginx)."""

from pathlib import Path

from .config import (
    RouterConfig,
    RouterConfigError,
    Upstream,
    render_closed_conf,
    render_nginx_conf,
)

IMAGE_SOURCE = Path(__file__).resolve().parent / "image"
"""The router image's build context (installed as package data)."""

__all__ = [
    "IMAGE_SOURCE",
    "RouterConfig",
    "RouterConfigError",
    "Upstream",
    "render_closed_conf",
    "render_nginx_conf",
]
