#!/usr/bin/env bash
# The Kubernetes target's local cluster: one node on this machine, from the binaries that
# scripts/kubernetes.sh builds. Idempotent: `up` finds a running cluster and leaves it be.
#
#   scripts/cluster.sh up       # etcd, API server, controller manager, scheduler, containerd,
#                               # kubelet, kube-proxy; returns once the node is Ready
#   scripts/cluster.sh down     # stops everything, undoes what the node changed on the host
#   scripts/cluster.sh status   # what runs
#   scripts/cluster.sh node up|down|kill <i>
#                               # worker node i (1, 2, ...) in its own network namespace: `up`
#                               # registers it and returns once it is Ready, `down` drains and
#                               # removes it, `kill` crashes it (every process of the node, its
#                               # pods' included, killed at once; the node object stays)
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
CLUSTER_CIDR="10.244.0.0/16"
# How long a node may go without renewing its lease before it is lost: its pods leave their
# Services then, and are replaced after their toleration (Kubernetes' default is 50 s).
NODE_MONITOR_GRACE_S=16
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
    reported=1
    printf '\ncluster: %s\nsee %s; `scripts/cluster.sh down` stops what started\n' "$1" "$2" >&2
    exit 1
}

# Any other command that fails stops the script (set -e): say in which step, and where the
# logs are. `fail` has said it already.
reported=""
trap 'status=$?; ((status == 0)) || [[ -n "$reported" ]] || printf "\ncluster: step \"%s\" failed (exit %s)\nsee %s; \`scripts/cluster.sh down\` stops what started\n" "$current_step" "$status" "$LOGS" >&2' EXIT

running() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# start <name> <command...>: run detached, output to its log, pid in run/<name>.pid. A
# component already running with the same command is left alone; one started with another
# command (an older set-up's flags) is restarted with this one.
start() {
    local name="$1"
    shift
    local command="$*"
    # A configuration file named by CONFIG is part of what the component was started with.
    [[ -n "${CONFIG:-}" ]] && command="$command # config $(md5sum <"$CONFIG" | cut -c1-12)"
    if running "$name"; then
        [[ "$(cat "$RUN/$name.cmd" 2>/dev/null)" == "$command" ]] && return 0
        echo "    restarting $name: its flags or configuration changed"
        stop "$name" 40
    fi
    setsid ${NETNS:+nsenter "--net=/run/netns/$NETNS"} "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
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

# unmount_under <dir>...: every mount below these folders, deepest first (the kubelet
# bind-mounts its root on itself, pods' volumes and sandboxes under it).
unmount_under() {
    local dirs
    dirs="$(IFS='|'; echo "$*")"
    { awk '{print $2}' /proc/mounts | grep -E "^($dirs)/" || true; } | sort -r | xargs -r -n1 umount -l
}

# report <label> <component name>: whether the component runs, for `status`.
report() {
    if running "$2"; then echo "$1: running (pid $(cat "$RUN/$2.pid"))"; else echo "$1: stopped"; fi
}

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

# The files below are written for node 0 (on the host's network) and for each worker node
# (in its own network namespace) from the node's own names, addresses and directories.

# cni_config <dir> <bridge> <pod CIDR> <IPAM data dir>
cni_config() {
    mkdir -p "$1/net.d"
    write_config "$1/net.d/10-modelpack.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "modelpack",
  "plugins": [
    {"type": "bridge", "bridge": "$2", "isGateway": true, "ipMasq": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$3"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$4"}},
    {"type": "firewall"},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF
}

# containerd_config <dir> <state dir> <socket> <CNI plugin dir> <CNI config dir>
containerd_config() {
    mkdir -p "$1"
    write_config "$1/config.toml" <<EOF
version = 3
root = "$1/root"
state = "$2"
[grpc]
  address = "$3"
[plugins."io.containerd.cri.v1.runtime"]
  # Root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj, and every sandbox
  # would fail with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$4"]
    conf_dir = "$5"
[plugins."io.containerd.cri.v1.images"]
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "registry.k8s.io/pause:3.10"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "$DIR/containerd/certs.d"
EOF
}

# kubelet_config <dir> <node IP> <pod CIDR> <socket> <certificate name> <cgroup root>
kubelet_config() {
    mkdir -p "$1"
    write_config "$1/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: $6
failSwapOn: false
failCgroupV1: false
oomScoreAdj: 0
containerRuntimeEndpoint: unix://$4
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/$5.crt
tlsPrivateKeyFile: $PKI/$5.key
address: $2
podCIDR: $3
podLogsDir: $1/pod-logs
resolvConf: /etc/resolv.conf
staticPodPath: ""
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {}
# The lease is renewed every 2.5 s (a quarter of its duration), so that a node silent for
# NODE_MONITOR_GRACE_S is surely lost and a live one never is.
nodeLeaseDurationSeconds: 10
nodeStatusUpdateFrequency: 4s
EOF
}

# kube_proxy_config <file> <node IP> <node name> <node port addresses, JSON>
kube_proxy_config() {
    write_config "$1" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $CLUSTER_CIDR
bindAddress: $2
hostnameOverride: $3
oomScoreAdj: 0
nodePortAddresses: $4
clientConnection: {kubeconfig: $DIR/kube-proxy.kubeconfig}
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

configs() {
    cni_config "$DIR/cni" mpk8sbr0 "$POD_CIDR" /var/lib/cni/networks
    containerd_config "$DIR/containerd" "$RUN/containerd/state" "$CONTAINERD_SOCK" /usr/lib/cni "$DIR/cni/net.d"
    kubelet_config "$DIR/kubelet" "$NODE_IP" "$POD_CIDR" "$CONTAINERD_SOCK" kubelet /
    # Node ports (the endpoints' routers) answer on loopback and the node's address only, never
    # on the machine's own network addresses.
    kube_proxy_config "$DIR/kube-proxy.yaml" "$NODE_IP" "$NODE" "[\"127.0.0.0/8\", \"$NODE_IP/32\"]"
}

# --- the node's address and the pause image ---------------------------------------------------

node_address() {
    # A veth pair whose two ends stay on this host: an interface of our own to hold the node's
    # address (the kernel here has no dummy interfaces).
    ip link show "$NODE_IF" >/dev/null 2>&1 || ip link add "$NODE_IF" type veth peer name "${NODE_IF}p"
    ip addr show dev "$NODE_IF" | grep -F "$NODE_IP/32" >/dev/null || ip addr add "$NODE_IP/32" dev "$NODE_IF"
    ip link set "${NODE_IF}p" up
    ip link set "$NODE_IF" up
}

pause_image() { # pause_image <containerd socket>
    local ctr=("$BIN/ctr" --address "$1" -n k8s.io)
    "${ctr[@]}" images ls -q 2>/dev/null | grep '^registry.k8s.io/pause:3.10$' >/dev/null && return 0
    local build="$DIR/pause"
    mkdir -p "$build"
    cp "$ROOT/tools/pause/main.go" "$build/main.go"
    (cd "$ROOT/tools/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$build/pause" .)
    printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$build/Dockerfile"
    docker build -q -t registry.k8s.io/pause:3.10 "$build" >>"$LOGS/pause-image.log" 2>&1 ||
        fail "building the pause image failed" "$LOGS/pause-image.log"
    docker save registry.k8s.io/pause:3.10 | "${ctr[@]}" images import - >>"$LOGS/pause-image.log" 2>&1 ||
        fail "importing the pause image into containerd failed" "$LOGS/pause-image.log"
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
        --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
        --node-monitor-grace-period "${NODE_MONITOR_GRACE_S}s" --node-monitor-period 2s
    start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$DIR/scheduler.kubeconfig" \
        --authentication-kubeconfig "$DIR/scheduler.kubeconfig" \
        --authorization-kubeconfig "$DIR/scheduler.kubeconfig" --bind-address 127.0.0.1
    done_step "started"

    begin "containerd and the pause image"
    mkdir -p "$RUN/containerd"
    start containerd env PATH="$BIN:$PATH" "$BIN/containerd" --config "$DIR/containerd/config.toml"
    wait_for containerd "$LOGS/containerd.log" 30 test -S "$CONTAINERD_SOCK"
    pause_image "$CONTAINERD_SOCK"
    done_step "answering on $CONTAINERD_SOCK"

    begin "kubelet and kube-proxy"
    local saved="$DIR/sysctls"
    [[ -f "$saved" ]] || for key in "${SYSCTLS[@]}"; do echo "$key=$(sysctl -n "$key")"; done >"$saved"
    [[ -f "$saved.proxy" ]] || for key in "${PROXY_SYSCTLS[@]}"; do echo "$key=$(sysctl -n "$key")"; done >"$saved.proxy"
    # A node object left from an earlier run says Ready until it goes stale: the kubelet
    # registers it anew, so Ready below is this kubelet's.
    running kubelet || kubectl delete node "$NODE" --ignore-not-found >/dev/null
    CONFIG="$DIR/kubelet/config.yaml" start kubelet "$BIN/kubelet" --config "$DIR/kubelet/config.yaml" \
        --kubeconfig "$DIR/kubelet.kubeconfig" --hostname-override "$NODE" \
        --node-ip "$NODE_IP" --root-dir "$DIR/kubelet/root"
    CONFIG="$DIR/kube-proxy.yaml" start kube-proxy "$BIN/kube-proxy" --config "$DIR/kube-proxy.yaml"
    wait_ready "$NODE" kubelet
    # Clients enter through node 0's node ports (the host's loopback): the routers run here.
    kubectl label node "$NODE" modelpack.dev/router=true --overwrite >/dev/null
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

# --- worker nodes -------------------------------------------------------------------------------
# Worker node i (1 to 9) is a second machine in miniature: its own network namespace joined to
# the host by a veth pair (host end 172.31.(250+i).1, node end .2), its pod CIDR 10.244.i.0/24
# routed from the host, its own containerd, kubelet (pods in the cgroup /modelpack-node-<i>) and
# kube-proxy, its files under nodes/<i>. Its containerd runs on the host's network, so that it
# pulls from the workspaces' registries on 127.0.0.1 as node 0 does; the CNI plugins it runs
# enter the node's namespace, so the pods' network is the node's.

worker() { # worker <i>: worker node i's names and addresses, as W_* variables
    [[ "${1:-}" =~ ^[1-9]$ ]] || { echo "cluster: a worker node is numbered 1 to 9, not '${1:-}'" >&2; exit 2; }
    W=$1
    W_NODE="modelpack-node-$W"
    W_NETNS="mpk8s-node$W"
    W_IF="mpk8s$W"
    W_GATEWAY="172.31.$((250 + W)).1"
    W_IP="172.31.$((250 + W)).2"
    W_POD_CIDR="10.244.$W.0/24"
    W_DIR="$DIR/nodes/$W"
    W_RUN="$RUN/node-$W"
    W_SOCK="$W_RUN/containerd.sock"
    W_CGROUP="modelpack-node-$W"
}

# Docker's FORWARD policy drops what it does not know: traffic to and from pods passes.
forward_rules() {
    iptables -N MPK8S-FORWARD 2>/dev/null || true
    iptables -C FORWARD -j MPK8S-FORWARD 2>/dev/null || iptables -I FORWARD 1 -j MPK8S-FORWARD
    local flag
    for flag in -s -d; do
        iptables -C MPK8S-FORWARD "$flag" "$CLUSTER_CIDR" -j ACCEPT 2>/dev/null ||
            iptables -A MPK8S-FORWARD "$flag" "$CLUSTER_CIDR" -j ACCEPT
    done
}

worker_network() {
    [[ -e "/run/netns/$W_NETNS" ]] || ip netns add "$W_NETNS"
    ip link show "$W_IF" >/dev/null 2>&1 || ip link add "$W_IF" type veth peer name eth0 netns "$W_NETNS"
    ip addr show dev "$W_IF" | grep -F "$W_GATEWAY/24" >/dev/null || ip addr add "$W_GATEWAY/24" dev "$W_IF"
    ip link set "$W_IF" up
    local node=(ip -n "$W_NETNS")
    "${node[@]}" addr show dev eth0 | grep -F "$W_IP/24" >/dev/null || "${node[@]}" addr add "$W_IP/24" dev eth0
    "${node[@]}" link set lo up
    "${node[@]}" link set eth0 up
    # The node reaches the API server (node 0's address) and the other nodes' pods through the
    # host; the host reaches this node's pods through it. Nothing else is routed.
    "${node[@]}" route replace "$NODE_IP/32" via "$W_GATEWAY"
    "${node[@]}" route replace "$CLUSTER_CIDR" via "$W_GATEWAY"
    ip route replace "$W_POD_CIDR" via "$W_IP" dev "$W_IF"
    nsenter --net="/run/netns/$W_NETNS" sysctl -qw net.ipv4.ip_forward=1
    forward_rules
}

worker_configs() {
    cert "kubelet-$W" "system:node:$W_NODE" system:nodes "IP:$W_IP,DNS:$W_NODE"
    kubeconfig "$DIR/kubelet-$W.kubeconfig" "kubelet-$W"
    mkdir -p "$W_DIR/cni/bin" "$W_RUN"
    local plugin
    for plugin in bridge host-local firewall portmap loopback; do
        write_config "$W_DIR/cni/bin/$plugin" <<EOF
#!/bin/sh
exec nsenter --net=/run/netns/$W_NETNS /usr/lib/cni/$plugin "\$@"
EOF
        chmod +x "$W_DIR/cni/bin/$plugin"
    done
    cni_config "$W_DIR/cni" "mpk8sbr$W" "$W_POD_CIDR" "$W_DIR/cni/ipam"
    containerd_config "$W_DIR/containerd" "$W_RUN/containerd" "$W_SOCK" "$W_DIR/cni/bin" "$W_DIR/cni/net.d"
    kubelet_config "$W_DIR/kubelet" "$W_IP" "$W_POD_CIDR" "$W_SOCK" "kubelet-$W" "/$W_CGROUP"
    kube_proxy_config "$W_DIR/kube-proxy.yaml" "$W_IP" "$W_NODE" "[\"$W_IP/32\"]"
}

node_up() {
    worker "$1"
    running kube-apiserver || fail "the cluster is not running" "scripts/cluster.sh up"
    begin "node $W_NODE: network namespace $W_NETNS at $W_IP, pods $W_POD_CIDR"
    worker_network
    worker_cgroups
    worker_configs
    done_step "ready"

    begin "node $W_NODE: containerd, kubelet and kube-proxy"
    CONFIG="$W_DIR/containerd/config.toml" start "node-$W-containerd" \
        env PATH="$BIN:$PATH" "$BIN/containerd" --config "$W_DIR/containerd/config.toml"
    wait_for "containerd of $W_NODE" "$LOGS/node-$W-containerd.log" 30 test -S "$W_SOCK"
    pause_image "$W_SOCK"
    running "node-$W-kubelet" || kubectl delete node "$W_NODE" --ignore-not-found >/dev/null
    NETNS="$W_NETNS" CONFIG="$W_DIR/kubelet/config.yaml" start "node-$W-kubelet" "$BIN/kubelet" \
        --config "$W_DIR/kubelet/config.yaml" --kubeconfig "$DIR/kubelet-$W.kubeconfig" \
        --hostname-override "$W_NODE" --node-ip "$W_IP" --root-dir "$W_DIR/kubelet/root"
    NETNS="$W_NETNS" CONFIG="$W_DIR/kube-proxy.yaml" start "node-$W-kube-proxy" \
        "$BIN/kube-proxy" --config "$W_DIR/kube-proxy.yaml"
    wait_ready "$W_NODE" "node-$W-kubelet"
    sysctl -q -p "$DIR/sysctls" || true
    done_step "node $W_NODE Ready"
}

# Every process of worker node i at once, as if its machine lost power: its kubelet, kube-proxy
# and containerd, the containerd shims and every container in the node's cgroup. Its network
# stays up, so connections to its pods are refused, not left hanging.
worker_kill() {
    local name pids
    for name in kubelet kube-proxy containerd; do
        running "node-$W-$name" && kill -9 "$(cat "$RUN/node-$W-$name.pid")" 2>/dev/null || true
        rm -f "$RUN/node-$W-$name.pid"
    done
    pids="$(pgrep -f -- "-address $W_SOCK" || true)"
    pids+=" $(find "/sys/fs/cgroup/pids/$W_CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null || true)"
    # shellcheck disable=SC2086 # a list of pids
    [[ -n "${pids// /}" ]] && kill -9 $pids 2>/dev/null || true
}

node_kill() {
    worker "$1"
    begin "killing node $W_NODE"
    worker_kill
    done_step "killed; the node object stays until \`scripts/cluster.sh node down $W\`"
}

# Stop worker node i and take it out of the cluster: drained first when it runs (its pods are
# rescheduled), then stopped, its node object, namespace, routes and pods' networks removed.
# Its image store stays, so the next `node up` pulls nothing twice.
node_down() {
    worker "$1"
    begin "removing node $W_NODE"
    if running "node-$W-kubelet"; then
        kubectl drain "$W_NODE" --ignore-daemonsets --delete-emptydir-data --force \
            --timeout=90s >>"$LOGS/node-$W-drain.log" 2>&1 || true
    fi
    worker_down
    kubectl delete node "$W_NODE" --ignore-not-found >/dev/null 2>&1 || true
    done_step "removed"
}

worker_down() {
    worker_kill
    # The kubelet's mounts (its root, pods' volumes), containerd's (sandboxes' shm, rootfs).
    unmount_under "$W_DIR" "$W_RUN"
    # The pods' network namespaces (left by a killed containerd): those holding this node's
    # pod addresses.
    local netns
    for netns in $(ip netns list | awk '/^cni-/ {print $1}'); do
        if ip -n "$netns" -4 addr show 2>/dev/null | grep "inet 10\.244\.$W\." >/dev/null; then
            umount "/run/netns/$netns" 2>/dev/null || true
            rm -f "/run/netns/$netns"
        fi
    done
    rm -rf "$W_DIR/cni/ipam"
    ip route del "$W_POD_CIDR" 2>/dev/null || true
    ip link del "$W_IF" 2>/dev/null || true
    ip netns del "$W_NETNS" 2>/dev/null || true
    find "/sys/fs/cgroup" -mindepth 2 -maxdepth 2 -name "$W_CGROUP" -type d 2>/dev/null |
        while read -r root; do find "$root" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
}

node_ready() {
    [[ "$(kubectl get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' \
        2>/dev/null)" == True ]]
}

# wait_ready <node> <kubelet's component name>: until the node is Ready; fails at once when
# its kubelet exits.
wait_ready() {
    for _ in $(seq 1 600); do
        node_ready "$1" && return 0
        running "$2" || fail "the kubelet of $1 exited" "$LOGS/$2.log"
        sleep 0.2
    done
    fail "node $1 was not Ready within 120 s" "$LOGS/$2.log"
}

# The kubelet of a worker node keeps its pods under a cgroup of its own in every hierarchy.
worker_cgroups() {
    local hierarchy
    for hierarchy in /sys/fs/cgroup/*/; do
        [[ -f "$hierarchy/cgroup.procs" ]] || continue
        mkdir -p "$hierarchy$W_CGROUP"
    done
    local cpuset="/sys/fs/cgroup/cpuset"
    if [[ -d "$cpuset/$W_CGROUP" ]]; then
        [[ -n "$(cat "$cpuset/$W_CGROUP/cpuset.cpus")" ]] || cat "$cpuset/cpuset.cpus" >"$cpuset/$W_CGROUP/cpuset.cpus"
        [[ -n "$(cat "$cpuset/$W_CGROUP/cpuset.mems")" ]] || cat "$cpuset/cpuset.mems" >"$cpuset/$W_CGROUP/cpuset.mems"
    fi
}

workers() { # the worker nodes set up on this machine
    [[ -d "$DIR/nodes" ]] && find "$DIR/nodes" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort
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
    local i
    for i in $(workers); do
        worker "$i"
        worker_down
        # Else the next `up` starts with a NotReady node that nothing will run again.
        running kube-apiserver && kubectl delete node "$W_NODE" --ignore-not-found >/dev/null 2>&1 || true
    done
    begin "stopping the cluster"
    if running kubelet; then
        kubectl delete pods --all --all-namespaces --wait=true --timeout=60s >/dev/null 2>&1 || true
    fi
    for name in metrics-server kube-proxy kubelet; do stop "$name"; done
    for name in kube-scheduler kube-controller-manager; do stop "$name"; done
    stop kube-apiserver 30
    stop containerd
    stop etcd
    unmount_under "$DIR"
    for saved in "$DIR/sysctls" "$DIR/sysctls.proxy"; do
        [[ -f "$saved" ]] && sysctl -q -p "$saved" || true
    done
    iptables_cleanup
    iptables -D FORWARD -j MPK8S-FORWARD 2>/dev/null || true
    iptables -F MPK8S-FORWARD 2>/dev/null && iptables -X MPK8S-FORWARD || true
    ip link del "$NODE_IF" 2>/dev/null || true
    ip link del mpk8sbr0 2>/dev/null || true
    done_step "stopped"
}

status() {
    for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy metrics-server; do
        report "$name" "$name"
    done
    local i
    for i in $(workers); do
        for name in containerd kubelet kube-proxy; do
            report "node $i $name" "node-$i-$name"
        done
    done
    running kube-apiserver && kubectl get nodes -o wide || true
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    node)
        case "${2:-}" in
            up) node_up "${3:-}" ;;
            down) node_down "${3:-}" ;;
            kill) node_kill "${3:-}" ;;
            *)
                echo "usage: scripts/cluster.sh node up|down|kill <i>" >&2
                exit 2
                ;;
        esac
        ;;
    *)
        echo "usage: scripts/cluster.sh up|down|status|node" >&2
        exit 2
        ;;
esac
