"""Build contexts for environment and package images: Dockerfiles and the files they copy.

Pure file work (no Pulumi, no Docker): the components hand the rendered folders to the engine.
"""

from .contexts import (
    BuildContext,
    render_environment_context,
    render_package_context,
    server_version,
)
from .layout import ContainerLayout, layout_for

__all__ = [
    "BuildContext",
    "ContainerLayout",
    "layout_for",
    "render_environment_context",
    "render_package_context",
    "server_version",
]
