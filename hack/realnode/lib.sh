# Settings and helpers shared by the real-node scripts (sourced, not run).
# Everything the node writes lives under REALNODE_DIR; every process it starts is recorded
# in $REALNODE_DIR/pids as "<name> <pid>", so down.sh stops exactly those.

REALNODE_DIR="${REALNODE_DIR:-/tmp/streamreplay-node}"
NODE_NAME="${NODE_NAME:-node1}"
# The bridge the pods live on, and its address: the node IP, the API server's and the
# cluster DNS address. The kubelet refuses a loopback node IP, hence a bridge of our own.
BRIDGE="${BRIDGE:-cni0}"
NODE_IP="${NODE_IP:-10.88.0.1}"
# A /16: the scripts derive the pods' address range from its first two numbers.
POD_CIDR="${POD_CIDR:-10.88.0.0/16}"
# The CNI network's name (10-podnet.conflist): its cache entries in /var/lib/cni are ours.
CNI_NETWORK=streamreplay-podnet
SERVICE_CIDR="${SERVICE_CIDR:-10.0.0.0/24}"
KUBERNETES_SERVICE_IP="${KUBERNETES_SERVICE_IP:-10.0.0.1}"
API_PORT="${API_PORT:-16443}"
ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-12379}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-12380}"
# The images up.sh imports into containerd (OCI archives, *.tar).
REALNODE_IMAGES="${REALNODE_IMAGES:-${REALNODE_DIR}/images}"

PIDS="${REALNODE_DIR}/pids"
LOGS="${REALNODE_DIR}/logs"
PKI="${REALNODE_DIR}/pki"
CONTAINERD_SOCK="${REALNODE_DIR}/run/containerd.sock"
ADMIN_KUBECONFIG="${PKI}/admin.kubeconfig"
CRICTL_CONFIG="${REALNODE_DIR}/crictl.yaml"

# The machine's uplink (the default route's device): nothing from the pod network may
# leave through it. Empty on a machine without a default route.
uplink() { ip -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}'; }

log() { printf 'realnode: %s\n' "$*" >&2; }
die() { printf 'realnode: %s\n' "$*" >&2; exit 1; }

# now_ms is the wall clock in milliseconds, for the step timings.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

require_root() {
  [[ "$(id -u)" == 0 ]] || die "$1 needs root (network bridge, iptables, containerd, kubelet); run it with sudo"
}

# record NAME PID: remember a started process (or "netdev <name>" for the bridge).
record() { echo "$1 $2" >> "${PIDS}"; }

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND...: polls COMMAND every 0.2 s.
wait_for() {
  local what="$1" timeout="$2"; shift 2
  local deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) < deadline)) || die "timed out after ${timeout}s waiting for ${what} (logs in ${LOGS})"
    sleep 0.2
  done
}

# rules IPTABLES: the policies, chains and rules of every table, to compare before and after.
rules() {
  local table
  for table in filter nat mangle raw; do
    echo "table ${table}"
    "$1" -w -t "${table}" -S 2>/dev/null
  done
}

# remove_chain IPTABLES TABLE CHAIN: deletes every jump to CHAIN, then CHAIN itself.
remove_chain() {
  local ipt="$1" table="$2" chain="$3" rule
  while rule="$("${ipt}" -w -t "${table}" -S 2>/dev/null | grep -m1 -E -- "-j ${chain}( |\$)")"; do
    # -S prints "-A PARENT <match...> -j CHAIN"; the same words after -D delete it.
    read -r -a words <<< "${rule#-A }"
    "${ipt}" -w -t "${table}" -D "${words[@]}" || return 1
  done
  "${ipt}" -w -t "${table}" -F "${chain}" 2>/dev/null
  "${ipt}" -w -t "${table}" -X "${chain}" 2>/dev/null
  return 0
}

# The sysctls the kubelet sets on start (and the forwarding switches the node relies on):
# up.sh saves them, down.sh puts them back.
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv4.conf.all.route_localnet)
