#!/usr/bin/env bash
# Brings a one-node Kubernetes up on this machine, from nothing: the bridge the pods live on
# and the guards that keep their traffic on this machine, containerd (from Debian), etcd and
# kube-apiserver (the envtest binaries), the kubelet, kube-controller-manager,
# kube-scheduler, kube-proxy and CoreDNS (hack/realnode/build.sh), with the images of
# $REALNODE_IMAGES imported. Needs root. down.sh takes all of it down again.
#
#   REALNODE_BIN        the node's binaries (default: what build.sh prints, building when absent)
#   KUBEBUILDER_ASSETS  kube-apiserver and etcd (default: what hack/envtest-binaries.sh prints)
#
# The only stdout line is the admin kubeconfig's path; progress with timings goes to stderr.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "${HERE}/lib.sh"

require_root up.sh
[[ ! -s "${PIDS}" ]] || die "a node seems to be up already (${PIDS} lists processes); run hack/realnode/down.sh first"
ip link show "${BRIDGE}" >/dev/null 2>&1 && die "the bridge ${BRIDGE} exists already: another node, or a leftover (ip link del ${BRIDGE})"
for tool in containerd runc ctr iptables conntrack openssl; do
  command -v "${tool}" >/dev/null 2>&1 || die "${tool} is missing: run hack/realnode/deps.sh"
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || die "the CNI plugins are missing: run hack/realnode/deps.sh"
BIN="${REALNODE_BIN:-$(bash "${HERE}/build.sh")}"
ASSETS="${KUBEBUILDER_ASSETS:-$(bash "${HERE}/../envtest-binaries.sh")}"
for b in "${BIN}"/{kubelet,kube-controller-manager,kube-scheduler,kube-proxy,coredns} "${ASSETS}"/{kube-apiserver,etcd}; do
  [[ -x "${b}" ]] || die "${b} is missing"
done
compgen -G "${REALNODE_IMAGES}/*.tar" >/dev/null || die "no images (*.tar) in ${REALNODE_IMAGES}: build them with 'make image'"

T0="$(now_ms)"
step() { log "+$(($(now_ms) - T0))ms $*"; }

mkdir -p "${REALNODE_DIR}" "${LOGS}" "${REALNODE_DIR}/run" "${REALNODE_DIR}/kubelet" \
  "${REALNODE_DIR}/pod-logs" "${REALNODE_DIR}/cni/net.d" "${REALNODE_DIR}/etcd" "${REALNODE_DIR}/containerd"
: > "${PIDS}"
# What down.sh compares with and puts back.
mkdir -p "${REALNODE_DIR}/host-before"
for ipt in iptables ip6tables; do rules "${ipt}" > "${REALNODE_DIR}/host-before/${ipt}"; done
sysctl "${SYSCTLS[@]}" 2>/dev/null > "${REALNODE_DIR}/host-before/sysctl"
[[ -d /var/lib/cni ]] || touch "${REALNODE_DIR}/host-before/no-var-lib-cni" # containerd's CNI cache goes there
[[ -f "${ADMIN_KUBECONFIG}" ]] || bash "${HERE}/certs.sh"

# The configuration files, from the templates of config/.
pod_base="${POD_CIDR%/*}"
render() {
  sed -e "s|@DIR@|${REALNODE_DIR}|g" -e "s|@NODE_IP@|${NODE_IP}|g" -e "s|@NODE_NAME@|${NODE_NAME}|g" \
    -e "s|@BRIDGE@|${BRIDGE}|g" -e "s|@CNI_NETWORK@|${CNI_NETWORK}|g" -e "s|@POD_CIDR@|${POD_CIDR}|g" -e "s|@SERVICE_CIDR@|${SERVICE_CIDR}|g" \
    -e "s|@POD_RANGE_START@|${pod_base%.*.*}.1.1|g" -e "s|@POD_RANGE_END@|${pod_base%.*.*}.255.254|g" \
    "${HERE}/config/$1" > "$2"
}
render containerd.toml "${REALNODE_DIR}/containerd/config.toml"
render 10-podnet.conflist "${REALNODE_DIR}/cni/net.d/10-podnet.conflist"
render Corefile "${REALNODE_DIR}/Corefile"
render kubelet-config.yaml "${REALNODE_DIR}/kubelet-config.yaml"
render kube-proxy-config.yaml "${REALNODE_DIR}/kube-proxy-config.yaml"
# For crictl (down.sh, guards.sh, and by hand): this node's containerd. 60 s: stopping a pod
# waits for its containers' grace period, and crictl's default is 2 s.
printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n' "${CONTAINERD_SOCK}" "${CONTAINERD_SOCK}" > "${CRICTL_CONFIG}"

# The pod network and its guards, before anything can send. The bridge's address is the
# node IP. Pods get routes to the pod and Service ranges only (no default route), global
# ip_forward stays 0 and only the bridge forwards, NODE-GUARD drops anything forwarded that
# is not bridge to bridge, unmatched ClusterIPs die on the bridge, and NODE-UPLINK drops and
# counts anything from the pod range about to leave through the uplink (guards.sh checks
# its counter is 0).
ip link add "${BRIDGE}" type bridge
record netdev "${BRIDGE}"
ip addr add "${NODE_IP}/${POD_CIDR#*/}" dev "${BRIDGE}"
sysctl -qw "net.ipv6.conf.${BRIDGE}.disable_ipv6=1"
ip link set "${BRIDGE}" up
ip route replace "${SERVICE_CIDR}" dev "${BRIDGE}"
sysctl -qw "net.ipv4.conf.${BRIDGE}.forwarding=1"
iptables -w -t mangle -N NODE-GUARD
iptables -w -t mangle -A NODE-GUARD ! -i "${BRIDGE}" -j DROP
iptables -w -t mangle -A NODE-GUARD ! -o "${BRIDGE}" -j DROP
iptables -w -t mangle -I FORWARD 1 -j NODE-GUARD
iptables -w -t mangle -N NODE-UPLINK
iptables -w -t mangle -A NODE-UPLINK -s "${POD_CIDR}" -j DROP
if [[ -n "$(uplink)" ]]; then
  iptables -w -t mangle -I POSTROUTING 1 -o "$(uplink)" -j NODE-UPLINK
fi
step "bridge ${BRIDGE} ${NODE_IP} and traffic guards (uplink: $(uplink))"

# start NAME COMMAND...: runs a node process in the background with its log, records its PID.
start() {
  local name="$1"; shift
  nohup nice -n 5 "$@" > "${LOGS}/${name}.log" 2>&1 &
  record "${name}" "$!"
}

start containerd containerd --config "${REALNODE_DIR}/containerd/config.toml"
start etcd "${ASSETS}/etcd" --name realnode --data-dir "${REALNODE_DIR}/etcd" --unsafe-no-fsync \
  --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
  --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-cluster "realnode=http://127.0.0.1:${ETCD_PEER_PORT}"
# --kubelet-preferred-address-types=InternalIP: otherwise the API server looks the node's
# name up in the machine's resolver, which is off this machine.
start apiserver "${ASSETS}/kube-apiserver" --etcd-servers="http://127.0.0.1:${ETCD_CLIENT_PORT}" \
  --bind-address="${NODE_IP}" --advertise-address="${NODE_IP}" --secure-port="${API_PORT}" \
  --tls-cert-file="${PKI}/apiserver.crt" --tls-private-key-file="${PKI}/apiserver.key" --client-ca-file="${PKI}/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="${PKI}/sa.pub" --service-account-signing-key-file="${PKI}/sa.key" \
  --service-cluster-ip-range="${SERVICE_CIDR}" --authorization-mode=Node,RBAC --allow-privileged=false \
  --enable-admission-plugins=NodeRestriction \
  --kubelet-client-certificate="${PKI}/apiserver-kubelet-client.crt" --kubelet-client-key="${PKI}/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="${PKI}/ca.crt" --kubelet-preferred-address-types=InternalIP

wait_for "containerd's socket" 30 test -S "${CONTAINERD_SOCK}"
for image in "${REALNODE_IMAGES}"/*.tar; do
  ctr -a "${CONTAINERD_SOCK}" -n k8s.io images import "${image}" >/dev/null ||
    die "importing ${image} into containerd failed"
done
step "containerd up, images imported: $(cd "${REALNODE_IMAGES}" && echo *.tar)"

export KUBECONFIG="${ADMIN_KUBECONFIG}"
wait_for "the API server" 120 kubectl get --raw /readyz
step "API server ready"

start kubelet "${BIN}/kubelet" --config="${REALNODE_DIR}/kubelet-config.yaml" --kubeconfig="${PKI}/kubelet.kubeconfig" \
  --root-dir="${REALNODE_DIR}/kubelet" --hostname-override="${NODE_NAME}" --node-ip="${NODE_IP}" --v=1
start kcm "${BIN}/kube-controller-manager" --kubeconfig="${PKI}/kcm.kubeconfig" --bind-address=127.0.0.1 --secure-port=10257 \
  --service-account-private-key-file="${PKI}/sa.key" --root-ca-file="${PKI}/ca.crt" --use-service-account-credentials=true \
  --cluster-signing-cert-file="${PKI}/ca.crt" --cluster-signing-key-file="${PKI}/ca.key" --leader-elect=false \
  --service-cluster-ip-range="${SERVICE_CIDR}"
start scheduler "${BIN}/kube-scheduler" --kubeconfig="${PKI}/scheduler.kubeconfig" --bind-address=127.0.0.1 \
  --secure-port=10259 --leader-elect=false
start kube-proxy "${BIN}/kube-proxy" --config="${REALNODE_DIR}/kube-proxy-config.yaml"
start coredns "${BIN}/coredns" -conf "${REALNODE_DIR}/Corefile"

node_ready() {
  [[ "$(kubectl get node "${NODE_NAME}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
wait_for "node ${NODE_NAME} Ready" 180 node_ready
step "node ${NODE_NAME} Ready"
wait_for "the default ServiceAccount" 60 kubectl get serviceaccount default
step "up"
echo "${ADMIN_KUBECONFIG}"
