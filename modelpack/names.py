"""Names shared by the Pulumi program and the `modelpack` command: type tokens, labels, stack
config keys and defaults. One home for each, so the two never disagree."""

from __future__ import annotations

# --- component type tokens -------------------------------------------------------------------
TOKEN_PREFIX = "modelpack:index:"
MODEL = TOKEN_PREFIX + "Model"
ENVIRONMENT = TOKEN_PREFIX + "Environment"
MODEL_PACKAGE = TOKEN_PREFIX + "ModelPackage"
ENDPOINT = TOKEN_PREFIX + "Endpoint"
DEPLOYMENT = TOKEN_PREFIX + "Deployment"
TRAFFIC = TOKEN_PREFIX + "Traffic"

# --- labels on everything a stack runs -------------------------------------------------------
LABEL_STACK = "modelpack.stack"
LABEL_PROJECT = "modelpack.project"
LABEL_ENDPOINT = "modelpack.endpoint"
LABEL_DEPLOYMENT = "modelpack.deployment"
LABEL_ROLE = "modelpack.role"
"""`router` or `replica`."""
LABEL_REPLICA = "modelpack.replica"
"""The replica's index in its deployment."""
ROLE_ROUTER = "router"
ROLE_REPLICA = "replica"

# --- labels of package images: what a package holds (read back when one is promoted) ----------
IMAGE_PACKAGE_NAME = "modelpack.package.name"
IMAGE_MODEL_NAME = "modelpack.model.name"
IMAGE_MODEL_VERSION = "modelpack.model.version"
IMAGE_MODEL_HASH = "modelpack.model.hash"
IMAGE_MODEL_MODE = "modelpack.model.mode"
IMAGE_ENVIRONMENT_HASH = "modelpack.environment.hash"
IMAGE_SERVER_TYPE = "modelpack.server.type"
IMAGE_SERVER_VERSION = "modelpack.server.version"
IMAGE_ENV_HASH = "modelpack.env.hash"
IMAGE_CODE_HASH = "modelpack.code.hash"

# --- stack config (`modelpack:<key>` in stacks/Pulumi.<ws>.yaml) -----------------------------
CONFIG_NAMESPACE = "modelpack"
CONFIG_TARGET = "target"
CONFIG_ASSETS = "assets"
"""The asset folder the stack deploys (the YAML files; a workspace is the stack itself)."""
CONFIG_ASSETS_OLD_NAME = "workspace"
"""What `assets` was called before; still read, with a warning."""
CONFIG_ASSET_ROOT = "assetRoot"
"""How far the asset folder's paths may reach (default: the repository holding it)."""
CONFIG_STATE_DIR = "stateDir"
CONFIG_ROUTER_PORT = "routerPort"
CONFIG_REGISTRY_PORT = "registryPort"
CONFIG_KEY_GENERATIONS = "keyGenerations"
CONFIG_MAX_BODY_BYTES = "maxRequestBodyBytes"
CONFIG_MAX_TOKEN_LIFETIME = "maxTokenLifetimeSeconds"
CONFIG_PROMOTED = "promoted"
CONFIG_DATA_COLLECTOR_STORE = "dataCollectorStore"
"""Where deployments' `data_collector` records go (default: `.state/<ws>/modelDataCollector`)."""

# --- defaults --------------------------------------------------------------------------------
DEFAULT_TARGET = "docker"
DEFAULT_ASSETS_FOLDER = "assets/example"
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_TOKEN_LIFETIME_S = 24 * 60 * 60
SERVER_PORT = 5001
"""The injected server's port inside a replica (azmlinfsrv's)."""
DATA_COLLECTOR_FOLDER = "modelDataCollector"
"""The store's folder in `.state/<ws>`, named as Azure ML's blob paths name it."""
DATA_COLLECTOR_MOUNT = "/var/modelpack/data-collector"
"""Where a replica sees its deployment's folder of the store."""

# --- stack outputs the command reads ---------------------------------------------------------
OUTPUT_TARGET = "target"


def config_key(key: str) -> str:
    """`modelpack:<key>`, as written in a stack file."""
    return f"{CONFIG_NAMESPACE}:{key}"


def asset_folder_in(stack_config: dict) -> str | None:
    """The asset folder a stack file's `config:` table names, under either spelling."""
    value = stack_config.get(config_key(CONFIG_ASSETS))
    return value or stack_config.get(config_key(CONFIG_ASSETS_OLD_NAME))
