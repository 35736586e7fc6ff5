"""modelpack: Azure ML model packages and online endpoints, declared on Pulumi.

- `modelpack.assets`: the YAML kinds (pydantic), loading and resolving a workspace folder
- `modelpack.builds`: build contexts of environment and package images (pure file work)
- `modelpack.inference_server`: the scoring server injected into every package image
- `modelpack.router`: the endpoint router's nginx configuration and image
- `modelpack.image_registry`: a workspace's image registry process
- `modelpack.targets`: where deployments run (`docker`, the default)
- `modelpack.cli`: the `modelpack` command
- `modelpack.names`: names shared by the Pulumi program and the command
"""

__version__ = "0.1.0"
