"""Docker resources as Pulumi dynamic providers over the Docker SDK for Python.

pulumi-docker's provider plugin cannot be built here (its Go module is refused by the module
proxy, see README "Setup"), so the few Docker resources the design needs are ours: images
built from a context, images pushed to and pulled from a workspace's registry, networks and
containers. Each module holds one resource.
"""

from .container import Container, ContainerArgs
from .image import Image, ImageArgs
from .network import Network, NetworkArgs
from .pulled_image import PulledImage, PulledImageArgs
from .registry_image import RegistryImage, RegistryImageArgs

__all__ = [
    "Container",
    "ContainerArgs",
    "Image",
    "ImageArgs",
    "Network",
    "NetworkArgs",
    "PulledImage",
    "PulledImageArgs",
    "RegistryImage",
    "RegistryImageArgs",
]
