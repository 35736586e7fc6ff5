#!/usr/bin/env bash
# One idempotent set-up step: installs only what is missing, prints each step with its duration.
#
#   scripts/setup.sh          # everything the main job and the tests need
#
# Slow outputs (the Pulumi CLI build, the base image root filesystem) are cached outside the
# repo in $MODELPACK_CACHE (default ~/.cache/modelpack) so later runs on the machine skip them.
# Source scripts/env.sh afterwards (the Makefile does) to get the CLI and plugins on PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"

PULUMI_VERSION="v3.274.1"
BASE_IMAGES=("python:3.11-slim" "nginx:1.30")  # the packages' base; the routers' (ROUTER_BASE_IMAGE)
LOG_DIR="$MODELPACK_CACHE/logs"
mkdir -p "$MODELPACK_CACHE/bin" "$LOG_DIR"

# shellcheck source=scripts/steps.sh
source "$ROOT/scripts/steps.sh"

on_error() {
    printf '\nsetup failed in step "%s".\n%s\n' "$current_step" "$hint" >&2
}
trap on_error ERR

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        apt-get update -qq >>"$LOG_DIR/apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1
        echo "installed ${missing[*]}"
    fi
}

# --- system packages -----------------------------------------------------------------------
begin "system packages (docker.io, mmdebstrap, wrk, docker-registry, skopeo, bc)" \
    "apt-get failed: see $LOG_DIR/apt.log; check that Debian's mirror answers (apt-get update)."
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
installed=$(apt_install docker.io mmdebstrap wrk docker-registry skopeo)
done_step "${installed:-already installed}"

# --- Docker engine -------------------------------------------------------------------------
begin "Docker engine" \
    "dockerd did not answer: see $LOG_DIR/dockerd.log. Stop any half-started dockerd (pkill dockerd) and rerun."
# Without Docker's userland proxy, loopback traffic to published ports (the endpoints' routers)
# is forwarded by iptables instead of a docker-proxy process per port, which here cost a
# quarter of a core at a few thousand requests/s.
if [[ ! -f /etc/docker/daemon.json ]]; then
    mkdir -p /etc/docker
    echo '{"userland-proxy": false}' >/etc/docker/daemon.json
fi
if docker info >/dev/null 2>&1; then
    done_step "already running"
else
    # A session of its own (setsid): a signal to the process group that ran the set-up (a CI
    # job ending, a terminal closed) must not take the engine, and every stack, with it.
    setsid dockerd >>"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1
    done_step "started dockerd"
fi

# --- virtualenv ------------------------------------------------------------------------------
begin "Python virtualenv (.venv) with pinned dependencies" \
    "pip failed: see $LOG_DIR/pip.log. Delete $ROOT/.venv and rerun if it is half-built."
stamp="$ROOT/.venv/.modelpack-deps"
want=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)
# The plugins are console scripts of the package. A .venv set up before they were had shell
# shims of the same names instead: reinstalling the package overwrites them (pip replaces files
# in bin/).
installed_plugin() {
    grep -q "from modelpack\." "$ROOT/.venv/bin/$1" 2>/dev/null
}
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && installed_plugin pulumi-language-python \
    && installed_plugin pulumi-resource-pulumi-python; then
    done_step "up to date"
else
    [[ -x "$ROOT/.venv/bin/python" ]] || python3 -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/pip" install -q --upgrade pip >>"$LOG_DIR/pip.log" 2>&1
    "$ROOT/.venv/bin/pip" install -q -e "$ROOT[inference,test]" >>"$LOG_DIR/pip.log" 2>&1
    echo "$want" >"$stamp"
    done_step "installed"
fi

# --- Pulumi CLI ------------------------------------------------------------------------------
begin "Pulumi CLI $PULUMI_VERSION (built from the Go module proxy)" \
    "go build failed: see $LOG_DIR/pulumi-build.log. The pinned module set is tools/pulumi/go.mod."
cli="$MODELPACK_CACHE/bin/pulumi"
if [[ -x "$cli" && "$("$cli" version 2>/dev/null)" == "$PULUMI_VERSION" ]]; then
    done_step "cached at $cli"
else
    echo "    building (about 10 minutes cold on 2 cores; output in $LOG_DIR/pulumi-build.log)"
    (cd "$ROOT/tools/pulumi" && go build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        -o "$cli.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >"$LOG_DIR/pulumi-build.log" 2>&1
    mv "$cli.tmp" "$cli"
    done_step "built $cli"
fi

# --- language host and dynamic-provider plugin --------------------------------------------------
# Console scripts of the package (pyproject.toml, [project.scripts]), installed into .venv/bin by
# the virtualenv step; this step only checks they are there.
begin "Pulumi python language host and dynamic-provider plugin" \
    "the plugins are console scripts of modelpack: delete $stamp and rerun to reinstall it."
for plugin in pulumi-language-python pulumi-resource-pulumi-python; do
    installed_plugin "$plugin"
done
done_step "console scripts of modelpack in .venv/bin"

# --- Azurite ---------------------------------------------------------------------------------
# Azure's blob storage emulator, from npm, pinned by tools/azurite/package-lock.json: the blob
# service behind the shared `azblob://` state backend of the tests (tests/support/azurite.py
# starts and stops an instance per test module; nothing is left running).
begin "Azurite (Azure blob storage emulator, npm, tools/azurite)" \
    "npm ci failed: see $LOG_DIR/azurite.log; check that the npm registry answers (npm view azurite version)."
azurite_dir="$MODELPACK_CACHE/azurite"
azurite_want=$(cat "$ROOT/tools/azurite/package.json" "$ROOT/tools/azurite/package-lock.json" | sha256sum | cut -d' ' -f1)
azurite_stamp="$azurite_dir/.modelpack-lock"
if [[ -x "$azurite_dir/node_modules/.bin/azurite-blob" && -f "$azurite_stamp" \
    && "$(cat "$azurite_stamp")" == "$azurite_want" ]]; then
    done_step "cached at $azurite_dir ($("$azurite_dir/node_modules/.bin/azurite-blob" --version))"
else
    command -v npm >/dev/null || apt_install nodejs npm >/dev/null
    mkdir -p "$azurite_dir"
    cp "$ROOT/tools/azurite/package.json" "$ROOT/tools/azurite/package-lock.json" "$azurite_dir/"
    # flock: other checkouts on this machine share the folder.
    (cd "$azurite_dir" && flock "$azurite_dir.lock" npm ci --no-audit --no-fund --loglevel=error) \
        >"$LOG_DIR/azurite.log" 2>&1
    echo "$azurite_want" >"$azurite_stamp"
    done_step "installed azurite $("$azurite_dir/node_modules/.bin/azurite-blob" --version) into $azurite_dir"
fi

# --- base images -----------------------------------------------------------------------------
begin "base images (${BASE_IMAGES[*]})" \
    "building the base image failed: see $LOG_DIR/base-image.log (mmdebstrap needs Debian's mirror)."
built=()
for image in "${BASE_IMAGES[@]}"; do
    if ! docker image inspect "$image" >/dev/null 2>&1; then
        "$ROOT/scripts/base-image.sh" "$image" >>"$LOG_DIR/base-image.log" 2>&1
        built+=("$image")
    fi
done
done_step "${built[*]:+built ${built[*]}}${built[*]:-present}"

# --- the Kubernetes target ------------------------------------------------------------------------
# Its binaries (cached; about 11 minutes cold on 2 cores) and its one-node cluster on this
# machine, left running for the `kubernetes` stacks and their tests. Both scripts print their
# own steps and say what failed.
trap - ERR
"$ROOT/scripts/kubernetes.sh" build
"$ROOT/scripts/cluster.sh" up

echo "setup complete: $("$cli" version), python $("$ROOT/.venv/bin/python" -c 'import platform; print(platform.python_version())'), docker $(docker version -f '{{.Server.Version}}')"
