"""The Pulumi program: reads the stack's settings, loads its asset folder and declares
models, environments, packages, endpoints and deployments as one graph."""

import pulumi

from components.promotion import PromotionError
from components.settings import StackSettings
from components.workspace_graph import build_graph
from modelpack import names
from modelpack.assets import AssetFolderError, SpecError, load_asset_folder
from modelpack.providers.model_store import auto_versions

settings = StackSettings.from_config()
try:
    assets = load_asset_folder(
        settings.assets,
        root=settings.asset_root,
        model_versions=auto_versions(settings.model_store),
    )
    graph = build_graph(assets, settings)
except (AssetFolderError, SpecError) as error:
    raise pulumi.RunError(f"the asset folder {settings.assets} is not valid:\n{error}") from None
except PromotionError as error:
    raise pulumi.RunError(f"modelpack:promoted cannot be deployed:\n{error}") from None

pulumi.export(names.OUTPUT_TARGET, settings.target)
pulumi.export(
    "registry",
    {"address": graph.registry.address, "root": str(settings.registry_dir)},
)
pulumi.export(
    "packages",
    {
        name: {
            "image": package.image_id,
            "digest": package.digest,
            "tag": package.tag,
            "hashes": package.hashes,
            "mode": package.mode,
            "promoted": package.promoted,
        }
        for name, package in graph.packages.items()
    },
)
pulumi.export("models", {key: model.version for key, model in graph.models.items()})
pulumi.export(
    "endpoints",
    {
        name: {
            "scoring_uri": endpoint.scoring_uri,
            "swagger_uri": endpoint.swagger_uri,
            "auth_mode": endpoint.auth_mode,
            "traffic": graph.traffic[name].traffic,
            "mirror_traffic": graph.traffic[name].mirror_traffic,
            "deployments": {
                deployment_name: {"replicas": deployment.replica_names}
                for deployment_name, deployment in graph.deployments[name].items()
            },
        }
        for name, endpoint in graph.endpoints.items()
    },
)
pulumi.export(
    "endpoint_keys",
    pulumi.Output.secret(
        {
            name: {"primary": endpoint.primary_key, "secondary": endpoint.secondary_key}
            for name, endpoint in graph.endpoints.items()
        }
    ),
)
