#!/usr/bin/env bash
# The Kubernetes target's local cluster: one node on this machine, from the binaries that
# scripts/kubernetes.sh builds. Idempotent: `up` finds a running cluster and leaves it be.
#
#   scripts/cluster.sh up       # etcd, API server, controller manager, scheduler, containerd,
#                               # kubelet, kube-proxy; returns once the node is Ready
#   scripts/cluster.sh down     # stops everything, undoes what the node changed on the host
#   scripts/cluster.sh status   # what runs
#
# The node's address is on an interface the script creates (a veth pair kept on this host) (never the machine's own
# address); everything lives under $MODELPACK_CACHE/cluster (certificates, etcd data,
# containerd's store, logs, pid files), and the admin kubeconfig is its kubeconfig file.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"

BIN="$MODELPACK_CACHE/kubernetes/bin"
DIR="$MODELPACK_CACHE/cluster"
PKI="$DIR/pki"
LOGS="$DIR/logs"
RUN="$DIR/run"
NODE="modelpack-node-0"
NODE_IF="mpk8s0"
NODE_IP="172.31.250.1"
POD_CIDR="10.244.0.0/24"
SERVICE_CIDR="10.96.0.0/16"
API_PORT=6443
ETCD_PORT=23790
METRICS_PORT=4443
CONTAINERD_SOCK="$RUN/containerd/containerd.sock"
KUBECONFIG_ADMIN="$DIR/kubeconfig"
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)
# kube-proxy turns this on so that node ports answer on 127.0.0.1; restored by `down`.
PROXY_SYSCTLS=(net.ipv4.conf.all.route_localnet)

# shellcheck source=scripts/steps.sh
source "$ROOT/scripts/steps.sh"

fail() {
    printf '\ncluster: %s\nsee %s; `scripts/cluster.sh down` stops what started\n' "$1" "$2" >&2
    exit 1
}

running() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# start <name> <command...>: run detached, output to its log, pid in run/<name>.pid. A
# component already running with the same command is left alone; one started with another
# command (an older set-up's flags) is restarted with this one.
start() {
    local name="$1"
    shift
    local command="$*"
    if running "$name"; then
        [[ "$(cat "$RUN/$name.cmd" 2>/dev/null)" == "$command" ]] && return 0
        echo "    restarting $name: its flags changed"
        stop "$name" 40
    fi
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
    echo "$command" >"$RUN/$name.cmd"
}

stop() {
    local name="$1" deadline="${2:-30}"
    running "$name" || { rm -f "$RUN/$name.pid"; return 0; }
    local pid
    pid="$(cat "$RUN/$name.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((deadline * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$RUN/$name.pid"
}

wait_for() {
    local what="$1" log="$2" seconds="$3"
    shift 3
    for _ in $(seq 1 $((seconds * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    fail "$what did not come up within $seconds s" "$log"
}

kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# --- certificates and kubeconfigs ---------------------------------------------------------------

cert() { # cert <name> <CN> <O or -> [SANs]
    local name="$1" cn="$2" org="$3" sans="${4:-}"
    [[ -f "$PKI/$name.crt" ]] && return 0
    local subject="/CN=$cn"
    [[ "$org" != "-" ]] && subject="/O=$org$subject"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subject" \
        -out "$PKI/$name.csr" 2>/dev/null
    local ext="$PKI/$name.ext"
    echo "basicConstraints=CA:FALSE" >"$ext"
    echo "keyUsage=digitalSignature,keyEncipherment" >>"$ext"
    echo "extendedKeyUsage=serverAuth,clientAuth" >>"$ext"
    [[ -n "$sans" ]] && echo "subjectAltName=$sans" >>"$ext"
    local ca="${CA:-ca}"
    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
        -CAcreateserial -days 3650 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
}

kubeconfig() { # kubeconfig <file> <cert name>
    local file="$1" name="$2"
    [[ -f "$file" ]] && return 0
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: modelpack
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://$NODE_IP:$API_PORT
users:
- name: $name
  user:
    client-certificate: $PKI/$name.crt
    client-key: $PKI/$name.key
contexts:
- name: modelpack
  context: {cluster: modelpack, user: $name}
current-context: modelpack
EOF
}

pki() {
    mkdir -p "$PKI"
    if [[ ! -f "$PKI/ca.crt" ]]; then
        openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -subj "/CN=modelpack-ca" \
            -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
    fi
    cert apiserver kube-apiserver - \
        "IP:$NODE_IP,IP:127.0.0.1,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
    cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
    cert admin admin system:masters
    cert controller-manager system:kube-controller-manager -
    cert scheduler system:kube-scheduler -
    cert kubelet "system:node:$NODE" system:nodes "IP:$NODE_IP,DNS:$NODE"
    cert kube-proxy system:kube-proxy -
    # The aggregation layer (metrics-server behind the API server) has its own CA.
    if [[ ! -f "$PKI/front-proxy-ca.crt" ]]; then
        openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -subj "/CN=modelpack-front-proxy-ca" \
            -keyout "$PKI/front-proxy-ca.key" -out "$PKI/front-proxy-ca.crt" 2>/dev/null
    fi
    CA=front-proxy-ca cert front-proxy-client front-proxy-client -
    [[ -f "$PKI/sa.key" ]] || openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    [[ -f "$PKI/sa.pub" ]] || openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
    kubeconfig "$KUBECONFIG_ADMIN" admin
    for name in controller-manager scheduler kubelet kube-proxy; do
        kubeconfig "$DIR/$name.kubeconfig" "$name"
    done
}

# --- configuration files ---------------------------------------------------------------------

# write_config <file>: stdin into the file, only when it differs (kube-proxy exits when its
# configuration file is touched, so a second `up` must leave an unchanged one alone).
write_config() {
    local tmp
    tmp="$(mktemp "$1.XXXX")"
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

configs() {
    mkdir -p "$DIR/cni/net.d" "$DIR/containerd" "$DIR/kubelet"
    write_config "$DIR/cni/net.d/10-modelpack.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "modelpack",
  "plugins": [
    {"type": "bridge", "bridge": "mpk8sbr0", "isGateway": true, "ipMasq": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "firewall"},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF
    write_config "$DIR/containerd/config.toml" <<EOF
version = 3
root = "$DIR/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.cri.v1.runtime"]
  # Root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj, and every sandbox
  # would fail with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$DIR/cni/net.d"
[plugins."io.containerd.cri.v1.images"]
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "registry.k8s.io/pause:3.10"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "$DIR/containerd/certs.d"
EOF
    write_config "$DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
oomScoreAdj: 0
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
address: $NODE_IP
podCIDR: $POD_CIDR
resolvConf: /etc/resolv.conf
staticPodPath: ""
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {}
EOF
    write_config "$DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
hostnameOverride: $NODE
oomScoreAdj: 0
# Node ports (the endpoints' routers) answer on loopback and the node's address only, never on
# the machine's own network addresses.
nodePortAddresses: ["127.0.0.0/8", "$NODE_IP/32"]
clientConnection: {kubeconfig: $DIR/kube-proxy.kubeconfig}
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

# --- the node's address and the pause image ---------------------------------------------------

node_address() {
    # A veth pair whose two ends stay on this host: an interface of our own to hold the node's
    # address (the kernel here has no dummy interfaces).
    ip link show "$NODE_IF" >/dev/null 2>&1 || ip link add "$NODE_IF" type veth peer name "${NODE_IF}p"
    ip addr show dev "$NODE_IF" | grep -q "$NODE_IP/32" || ip addr add "$NODE_IP/32" dev "$NODE_IF"
    ip link set "${NODE_IF}p" up
    ip link set "$NODE_IF" up
}

pause_image() {
    local ctr=("$BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io)
    "${ctr[@]}" images ls -q 2>/dev/null | grep -q '^registry.k8s.io/pause:3.10$' && return 0
    local build="$DIR/pause"
    mkdir -p "$build"
    cp "$ROOT/tools/pause/main.go" "$build/main.go"
    (cd "$ROOT/tools/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$build/pause" .)
    printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$build/Dockerfile"
    docker build -q -t registry.k8s.io/pause:3.10 "$build" >>"$LOGS/pause-image.log" 2>&1
    docker save registry.k8s.io/pause:3.10 | "${ctr[@]}" images import - >>"$LOGS/pause-image.log" 2>&1
}

# --- up / down --------------------------------------------------------------------------------

# The node's address and ports are the machine's: a cluster started from another
# $MODELPACK_CACHE (another clone's set-up) must be stopped before this one starts.
other_cluster() {
    running etcd && return 0
    local pid data_dir
    pid="$({ ss -ltnpH "sport = :$ETCD_PORT" | grep -o 'pid=[0-9]*' || true; } | head -1 | cut -d= -f2)"
    [[ -n "$pid" ]] || return 0
    data_dir="$(tr '\0' '\n' <"/proc/$pid/cmdline" | grep -A1 -- '--data-dir' | tail -1)"
    printf '\ncluster: another cluster holds port %s (etcd pid %s, data %s).\nStop it first: MODELPACK_CACHE=%s scripts/cluster.sh down\n' \
        "$ETCD_PORT" "$pid" "$data_dir" "$(dirname "$(dirname "$data_dir")")" >&2
    exit 1
}

up() {
    [[ -x "$BIN/kube" && -x "$BIN/etcd" && -x "$BIN/containerd" && -x "$BIN/metrics-server" ]] ||
        fail "the cluster's binaries are missing" "scripts/kubernetes.sh build"
    other_cluster
    mkdir -p "$LOGS" "$RUN" "$DIR/etcd"
    begin "node address $NODE_IP on $NODE_IF, certificates, configuration"
    node_address
    pki
    configs
    done_step "ready"

    begin "etcd"
    start etcd "$BIN/etcd" --data-dir "$DIR/etcd" --name modelpack \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
        --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
        --initial-cluster "modelpack=http://127.0.0.1:$((ETCD_PORT + 1))"
    wait_for etcd "$LOGS/etcd.log" 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
    done_step "answering on 127.0.0.1:$ETCD_PORT"

    begin "API server"
    start kube-apiserver "$BIN/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
        --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
        --service-cluster-ip-range "$SERVICE_CIDR" \
        --client-ca-file "$PKI/ca.crt" \
        --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
        --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
        --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
        --kubelet-preferred-address-types InternalIP \
        --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
        --requestheader-allowed-names front-proxy-client \
        --requestheader-username-headers X-Remote-User \
        --requestheader-group-headers X-Remote-Group \
        --requestheader-extra-headers-prefix X-Remote-Extra- \
        --proxy-client-cert-file "$PKI/front-proxy-client.crt" \
        --proxy-client-key-file "$PKI/front-proxy-client.key" \
        --enable-aggregator-routing=true \
        --service-account-key-file "$PKI/sa.pub" \
        --service-account-signing-key-file "$PKI/sa.key" \
        --service-account-issuer https://kubernetes.default.svc \
        --authorization-mode Node,RBAC \
        --allow-privileged=false
    wait_for "the API server" "$LOGS/kube-apiserver.log" 90 kubectl get --raw /readyz
    done_step "answering on https://$NODE_IP:$API_PORT"

    begin "controller manager and scheduler"
    start kube-controller-manager "$BIN/kube-controller-manager" \
        --kubeconfig "$DIR/controller-manager.kubeconfig" \
        --authentication-kubeconfig "$DIR/controller-manager.kubeconfig" \
        --authorization-kubeconfig "$DIR/controller-manager.kubeconfig" \
        --bind-address 127.0.0.1 \
        --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
        --use-service-account-credentials \
        --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key"
    start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$DIR/scheduler.kubeconfig" \
        --authentication-kubeconfig "$DIR/scheduler.kubeconfig" \
        --authorization-kubeconfig "$DIR/scheduler.kubeconfig" --bind-address 127.0.0.1
    done_step "started"

    begin "containerd and the pause image"
    mkdir -p "$RUN/containerd"
    start containerd env PATH="$BIN:$PATH" "$BIN/containerd" --config "$DIR/containerd/config.toml"
    wait_for containerd "$LOGS/containerd.log" 30 test -S "$CONTAINERD_SOCK"
    pause_image
    done_step "answering on $CONTAINERD_SOCK"

    begin "kubelet and kube-proxy"
    local saved="$DIR/sysctls"
    [[ -f "$saved" ]] || for key in "${SYSCTLS[@]}"; do echo "$key=$(sysctl -n "$key")"; done >"$saved"
    [[ -f "$saved.proxy" ]] || for key in "${PROXY_SYSCTLS[@]}"; do echo "$key=$(sysctl -n "$key")"; done >"$saved.proxy"
    # A node object left from an earlier run says Ready until it goes stale: the kubelet
    # registers it anew, so Ready below is this kubelet's.
    running kubelet || kubectl delete node "$NODE" --ignore-not-found >/dev/null
    start kubelet "$BIN/kubelet" --config "$DIR/kubelet/config.yaml" \
        --kubeconfig "$DIR/kubelet.kubeconfig" --hostname-override "$NODE" \
        --node-ip "$NODE_IP" --root-dir "$DIR/kubelet/root"
    start kube-proxy "$BIN/kube-proxy" --config "$DIR/kube-proxy.yaml"
    wait_for "node $NODE" "$LOGS/kubelet.log" 120 \
        bash -c "'$BIN/kubectl' --kubeconfig '$KUBECONFIG_ADMIN' get node '$NODE' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -q True"
    # The kubelet sets these at its start; the host keeps its own.
    sysctl -q -p "$saved" || true
    done_step "node $NODE Ready"

    metrics
}

# metrics-server, run on the host and served through the API server's aggregation layer
# (a Service without selector whose endpoint is the node's address): the CPU use that
# HorizontalPodAutoscalers scale by.
metrics() {
    begin "metrics-server"
    mkdir -p "$DIR/metrics-server"
    start metrics-server "$BIN/metrics-server" --secure-port "$METRICS_PORT" --bind-address "$NODE_IP" \
        --cert-dir "$DIR/metrics-server" --kubeconfig "$KUBECONFIG_ADMIN" \
        --authentication-kubeconfig "$KUBECONFIG_ADMIN" --authorization-kubeconfig "$KUBECONFIG_ADMIN" \
        --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
        --kubelet-preferred-address-types InternalIP --kubelet-certificate-authority "$PKI/ca.crt" \
        --metric-resolution 15s
    kubectl apply -f - >>"$LOGS/metrics-server.log" 2>&1 <<EOF
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec:
  ports: [{name: https, port: 443, targetPort: $METRICS_PORT}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: metrics-server, namespace: kube-system}
subsets:
- addresses: [{ip: "$NODE_IP"}]
  ports: [{name: https, port: $METRICS_PORT}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  service: {name: metrics-server, namespace: kube-system, port: 443}
  group: metrics.k8s.io
  version: v1beta1
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
EOF
    wait_for "the metrics API" "$LOGS/metrics-server.log" 90 kubectl get --raw /apis/metrics.k8s.io/v1beta1/nodes
    done_step "serving metrics.k8s.io on $NODE_IP:$METRICS_PORT"
}

# Remove the iptables chains the node added (kubelet and kube-proxy: KUBE-*, the CNI plugins:
# CNI-*) and the rules that jump to them; Docker's own chains stay as they are.
iptables_cleanup() {
    local table rule chain
    for table in filter nat mangle; do
        { iptables -t "$table" -S | grep -E -- '-j (KUBE|CNI)-' | grep -vE '^-A (KUBE|CNI)-' || true; } |
            sed 's/^-A /-D /' | while read -r rule; do
                eval "iptables -t $table $rule" || true
            done
        for chain in $(iptables -t "$table" -S | awk '/^-N (KUBE|CNI)-/ {print $2}'); do
            iptables -t "$table" -F "$chain" || true
        done
        for chain in $(iptables -t "$table" -S | awk '/^-N (KUBE|CNI)-/ {print $2}'); do
            iptables -t "$table" -X "$chain" || true
        done
    done
}

down() {
    begin "stopping the cluster"
    if running kubelet; then
        kubectl delete pods --all --all-namespaces --wait=true --timeout=60s >/dev/null 2>&1 || true
    fi
    for name in metrics-server kube-proxy kubelet; do stop "$name"; done
    for name in kube-scheduler kube-controller-manager; do stop "$name"; done
    stop kube-apiserver 30
    stop containerd
    stop etcd
    # The kubelet bind-mounts its root on itself, and pods' volumes and sandboxes under it.
    { awk '{print $2}' /proc/mounts | grep "^$DIR/" || true; } | sort -r | xargs -r -n1 umount -l
    for saved in "$DIR/sysctls" "$DIR/sysctls.proxy"; do
        [[ -f "$saved" ]] && sysctl -q -p "$saved" || true
    done
    iptables_cleanup
    ip link del "$NODE_IF" 2>/dev/null || true
    ip link del mpk8sbr0 2>/dev/null || true
    done_step "stopped"
}

status() {
    for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy metrics-server; do
        if running "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; fi
    done
    running kube-apiserver && kubectl get nodes -o wide || true
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *)
        echo "usage: scripts/cluster.sh up|down|status" >&2
        exit 2
        ;;
esac
