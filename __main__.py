"""The Pulumi program: reads the stack's settings, loads its workspace folder and declares
models, environments, packages, endpoints and deployments as one graph."""

import pulumi

from components.settings import StackSettings
from components.workspace_graph import build_graph
from spec import SpecError, WorkspaceError, load_workspace

settings = StackSettings.from_config()
try:
    workspace = load_workspace(settings.workspace)
    graph = build_graph(workspace, settings)
except (WorkspaceError, SpecError) as error:
    raise pulumi.RunError(f"the workspace {settings.workspace} is not valid:\n{error}") from None

pulumi.export(
    "packages",
    {
        name: {"image": package.image, "tag": package.tag, "hashes": package.hashes}
        for name, package in graph.packages.items()
    },
)
pulumi.export("models", {key: model.version for key, model in graph.models.items()})
