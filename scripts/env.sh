# Environment for every command of this project: sourced by scripts/setup.sh, the Makefile
# and .ci/run. Puts the Pulumi CLI (cached build) and the package's console scripts (.venv/bin:
# `modelpack` and the two Pulumi plugins) on PATH, and keeps Pulumi away from any cloud service.
MODELPACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MODELPACK_CACHE="${MODELPACK_CACHE:-$HOME/.cache/modelpack}"
export PATH="$MODELPACK_CACHE/bin:$MODELPACK_ROOT/.venv/bin:$PATH"
export PULUMI_HOME="${PULUMI_HOME:-$MODELPACK_CACHE/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
# A stack config file without the encryption salt (a clone that has not pulled the one that
# created the stack in a shared backend) takes the salt recorded in the stack's state instead
# of minting another.
export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true
