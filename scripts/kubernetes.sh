#!/usr/bin/env bash
# Builds what the Kubernetes target's local cluster runs, from the Go module proxy and Debian,
# into $MODELPACK_CACHE/kubernetes (binaries are reused while their pinned version is the same):
#
#   scripts/kubernetes.sh build     # kube (multi-call), etcd, containerd, metrics-server,
#                                   # the Pulumi provider
#
# Each step prints its duration; a failing step names its log and what to do.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"

KUBERNETES_VERSION="v1.34.4"
ETCD_VERSION="v3.6.16"
CONTAINERD_VERSION="v2.4.2"
METRICS_SERVER_VERSION="v0.8.0"
PROVIDER_VERSION="4.25.0"
PROVIDER_MODULE="github.com/pulumi/pulumi-kubernetes/provider/v4"
KUBE_DIR="$MODELPACK_CACHE/kubernetes"
BIN="$KUBE_DIR/bin"
LOG_DIR="$MODELPACK_CACHE/logs"
mkdir -p "$BIN" "$LOG_DIR" "$MODELPACK_CACHE/bin"

# shellcheck source=scripts/steps.sh
source "$ROOT/scripts/steps.sh"

fail() {
    printf '\nkubernetes build failed: %s\nsee %s\n' "$1" "$2" >&2
    exit 1
}

# built <file> <version>: is <file> there, built for <version>?
built() {
    [[ -x "$1" && -f "$1.version" && "$(cat "$1.version")" == "$2" ]]
}
stamp() {
    echo "$2" >"$1.version"
}

build() {
    begin "Debian packages (runc, CNI plugins, iptables, conntrack)"
    local missing=()
    for pkg in runc containernetworking-plugins iptables conntrack; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
            >>"$LOG_DIR/apt.log" 2>&1 || fail "apt-get install ${missing[*]}" "$LOG_DIR/apt.log"
        done_step "installed ${missing[*]}"
    else
        done_step "already installed"
    fi

    begin "Kubernetes $KUBERNETES_VERSION (one multi-call binary, tools/kubernetes)"
    if built "$BIN/kube" "$KUBERNETES_VERSION"; then
        done_step "cached at $BIN/kube"
    else
        local version_pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
        local minor="${KUBERNETES_VERSION#v1.}"
        minor="${minor%%.*}"
        local flags="-s -w"
        for pkg in "${version_pkgs[@]}"; do
            flags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        done
        echo "    building (about 5 minutes on 2 cores; log in $LOG_DIR/kubernetes-build.log)"
        (cd "$ROOT/tools/kubernetes" && go build -trimpath -ldflags "$flags" -o "$BIN/kube.tmp" .) \
            >"$LOG_DIR/kubernetes-build.log" 2>&1 || fail "go build of tools/kubernetes" "$LOG_DIR/kubernetes-build.log"
        mv "$BIN/kube.tmp" "$BIN/kube"
        stamp "$BIN/kube" "$KUBERNETES_VERSION"
        done_step "built $BIN/kube"
    fi
    for name in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
        ln -sf kube "$BIN/$name"
    done

    begin "etcd $ETCD_VERSION (tools/etcd)"
    if built "$BIN/etcd" "$ETCD_VERSION"; then
        done_step "cached at $BIN/etcd"
    else
        (cd "$ROOT/tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" .) \
            >"$LOG_DIR/etcd-build.log" 2>&1 || fail "go build of tools/etcd" "$LOG_DIR/etcd-build.log"
        mv "$BIN/etcd.tmp" "$BIN/etcd"
        stamp "$BIN/etcd" "$ETCD_VERSION"
        done_step "built $BIN/etcd"
    fi

    begin "containerd $CONTAINERD_VERSION"
    if built "$BIN/containerd" "$CONTAINERD_VERSION"; then
        done_step "cached at $BIN/containerd"
    else
        GOBIN="$BIN" go install -trimpath -ldflags "-s -w" \
            "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
            "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
            "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" \
            >"$LOG_DIR/containerd-build.log" 2>&1 || fail "go install of containerd" "$LOG_DIR/containerd-build.log"
        stamp "$BIN/containerd" "$CONTAINERD_VERSION"
        done_step "built $BIN/containerd, containerd-shim-runc-v2 and ctr"
    fi

    begin "metrics-server $METRICS_SERVER_VERSION (for autoscaling)"
    if built "$BIN/metrics-server" "$METRICS_SERVER_VERSION"; then
        done_step "cached at $BIN/metrics-server"
    else
        GOBIN="$BIN" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
            "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION" \
            >"$LOG_DIR/metrics-server-build.log" 2>&1 ||
            fail "go install of metrics-server" "$LOG_DIR/metrics-server-build.log"
        stamp "$BIN/metrics-server" "$METRICS_SERVER_VERSION"
        done_step "built $BIN/metrics-server"
    fi

    local plugin="$MODELPACK_CACHE/bin/pulumi-resource-kubernetes"
    begin "Pulumi Kubernetes provider $PROVIDER_VERSION (tools/pulumi-kubernetes)"
    if built "$plugin" "$PROVIDER_VERSION"; then
        done_step "cached at $plugin"
    else
        local wrapper="$ROOT/tools/pulumi-kubernetes"
        local source
        # `go list -m` names the module's folder only once it is in the module cache.
        source="$(cd "$wrapper" && go mod download "$PROVIDER_MODULE" &&
            go list -m -f '{{.Dir}}' "$PROVIDER_MODULE")" && [[ -n "$source" ]] ||
            fail "downloading $PROVIDER_MODULE from the Go module proxy" "the output above"
        # The provider's command is generated and built in a build folder, never committed.
        rm -rf "$wrapper/build"
        mkdir -p "$wrapper/build"
        cp "$source/cmd/pulumi-resource-kubernetes/"{main.go,generate.go,schema.json,terraform-mapping.json} \
            "$wrapper/build/"
        chmod u+w "$wrapper/build/"*
        echo "    building (about 9 minutes on 2 cores; log in $LOG_DIR/pulumi-kubernetes-build.log)"
        (cd "$wrapper/build" && VERSION="$PROVIDER_VERSION" go run generate.go &&
            go build -trimpath \
                -ldflags "-s -w -X $PROVIDER_MODULE/pkg/version.Version=$PROVIDER_VERSION" \
                -o "$plugin.tmp" .) >"$LOG_DIR/pulumi-kubernetes-build.log" 2>&1 ||
            fail "building the provider" "$LOG_DIR/pulumi-kubernetes-build.log"
        mv "$plugin.tmp" "$plugin"
        stamp "$plugin" "$PROVIDER_VERSION"
        done_step "built $plugin"
    fi
}

case "${1:-}" in
    build) build ;;
    *)
        echo "usage: scripts/kubernetes.sh build" >&2
        exit 2
        ;;
esac
