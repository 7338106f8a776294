#!/usr/bin/env bash
# Takes the node of up.sh down completely: every process it started (by the PIDs it
# recorded), every pod sandbox (through the CRI, which undoes their network), the
# iptables rules of the node and of kube-proxy and the kubelet, the mounts under
# $REALNODE_DIR, the kubelet's cgroups, the bridge, and the sysctls the kubelet sets. Then it
# checks that nothing is left and that the host's iptables rules and sysctls are as up.sh
# found them; it fails naming what is left otherwise. Needs root. Safe to run twice.
#   WIPE=0  keeps the node's state (etcd, containerd) for a look afterwards; the logs stay anyway.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "${HERE}/lib.sh"
require_root down.sh

T0="$(now_ms)"
BIN="${REALNODE_BIN:-${REALNODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamreplay/realnode}/v${REALNODE_K8S_VERSION:-1.37.2}}"
BEFORE="${REALNODE_DIR}/host-before"

# The executable each recorded name must run, so that a PID reused since is never killed.
binary_of() {
  case "$1" in
    apiserver) echo kube-apiserver ;; kcm) echo kube-controller-manager ;; scheduler) echo kube-scheduler ;;
    *) echo "$1" ;;
  esac
}
pids_of() { [[ -f "${PIDS}" ]] && awk -v n="$1" '$1 == n {print $2}' "${PIDS}"; }
ours() { # ours NAME PID: the PID still runs the binary recorded for NAME
  local exe
  exe="$(readlink "/proc/$2/exe" 2>/dev/null)" || return 1
  [[ "$(basename "${exe% (deleted)}")" == "$(binary_of "$1")" ]]
}
forget() { sed -i "/^$1 $2\$/d" "${PIDS}"; }

# stop NAME: SIGTERM, then SIGKILL after 10 s, for every PID recorded under NAME.
stop() {
  local pid i
  for pid in $(pids_of "$1"); do
    if ours "$1" "${pid}"; then
      kill "${pid}" 2>/dev/null
      for i in $(seq 50); do ours "$1" "${pid}" || break; sleep 0.2; done
      ours "$1" "${pid}" && kill -9 "${pid}" 2>/dev/null && sleep 0.2
    fi
    forget "$1" "${pid}"
  done
}

stop kubelet
# Every pod sandbox, through the CRI while containerd still runs: this stops the
# containers and calls the CNI plugin's DEL, which releases the veth, the address and the
# network namespace.
if [[ -S "${CONTAINERD_SOCK}" && -x "${BIN}/crictl" ]]; then
  "${BIN}/crictl" --config "${CRICTL_CONFIG}" rmp --all --force >/dev/null 2>&1 ||
    log "crictl rmp failed; the pods' network is removed by hand below"
fi
for name in coredns kube-proxy scheduler kcm apiserver etcd; do stop "${name}"; done
# Shims of containers that outlived the CRI calls: found by our containerd's socket path,
# which only this node's shims carry, and killed by PID.
for pid in $(pgrep -f -- "containerd-shim-runc-v2 -namespace k8s.io -id .* -address ${CONTAINERD_SOCK}\$"); do
  kill -9 "${pid}" 2>/dev/null
done
stop containerd
for i in $(seq 25); do pgrep -f -- "-address ${CONTAINERD_SOCK}\$" >/dev/null || break; sleep 0.2; done

# iptables: kube-proxy's own cleanup, the kubelet's chains, then the node's guards.
[[ -x "${BIN}/kube-proxy" ]] && "${BIN}/kube-proxy" --cleanup >/dev/null 2>&1
for ipt in iptables ip6tables; do
  for table in mangle nat filter; do
    for chain in KUBE-KUBELET-CANARY KUBE-PROXY-CANARY KUBE-IPTABLES-HINT KUBE-FIREWALL; do
      remove_chain "${ipt}" "${table}" "${chain}"
    done
  done
done
remove_chain iptables mangle NODE-GUARD
remove_chain iptables mangle NODE-UPLINK

# What the CNI DEL of crictl rmp would have removed, had it failed: the pods' network
# namespaces (ours hold an address of the pod range; the veths go with them) and the CNI
# plugins' cache entries of our network.
pod_prefix="${POD_CIDR%.*.*}."
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
  if ip -n "${ns}" -4 -o addr show 2>/dev/null | awk '{print $4}' | grep -q "^${pod_prefix//./\.}"; then
    ip netns delete "${ns}"
  fi
done
for f in /var/lib/cni/results/"${CNI_NETWORK}"-*; do
  [[ -e "${f}" ]] || continue
  id="${f#/var/lib/cni/results/${CNI_NETWORK}-}"
  rm -f "${f}" "/var/lib/cni/results/cni-loopback-${id%-eth0}-lo"
done
if [[ -f "${BEFORE}/no-var-lib-cni" ]]; then
  rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null
fi

# Mounts under the node's folder (the kubelet's volumes, containerd's rootfs and shm),
# deepest first.
awk -v d="${REALNODE_DIR}/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null

# The kubelet's cgroups (cgroupfs driver: kubepods in every hierarchy), deepest first.
for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/unified/kubepods; do
  [[ -d "${d}" ]] && find "${d}" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# The bridge (its route goes with it).
if ip link show "${BRIDGE}" >/dev/null 2>&1 && [[ -f "${PIDS}" ]] && grep -q "^netdev ${BRIDGE}\$" "${PIDS}"; then
  ip link del "${BRIDGE}"
fi
[[ -f "${PIDS}" ]] && sed -i "/^netdev ${BRIDGE}\$/d" "${PIDS}"

# The sysctls the kubelet sets, back to the values up.sh saw.
if [[ -f "${BEFORE}/sysctl" ]]; then
  while read -r key _ value; do
    [[ "$(sysctl -n "${key}" 2>/dev/null)" == "${value}" ]] || sysctl -qw "${key}=${value}"
  done < "${BEFORE}/sysctl"
fi

if [[ "${WIPE:-1}" == 1 ]]; then
  rm -rf "${REALNODE_DIR}"/{kubelet,containerd,etcd,cni,pod-logs,run}
fi

# What is left: the check that teardown was complete.
left=()
[[ -s "${PIDS}" ]] && left+=("processes still recorded in ${PIDS}: $(tr '\n' ' ' < "${PIDS}")")
pgrep -f -- "${REALNODE_DIR}/" >/dev/null && left+=("processes naming ${REALNODE_DIR}: $(pgrep -d ' ' -f -- "${REALNODE_DIR}/")")
ip link show "${BRIDGE}" >/dev/null 2>&1 && left+=("the bridge ${BRIDGE}")
awk -v d="${REALNODE_DIR}/" 'index($2, d) == 1 {found = 1} END {exit !found}' /proc/self/mounts && left+=("mounts under ${REALNODE_DIR}")
compgen -G "/sys/fs/cgroup/*/kubepods" >/dev/null && left+=("cgroups $(echo /sys/fs/cgroup/*/kubepods)")
ip -br link | grep -q '^veth' && left+=("veth interfaces: $(ip -br link | awk '/^veth/ {print $1}' | tr '\n' ' ')")
compgen -G "/var/lib/cni/results/${CNI_NETWORK}-*" >/dev/null && left+=("CNI cache entries /var/lib/cni/results/${CNI_NETWORK}-*")
if [[ -f "${BEFORE}/iptables" ]]; then
  for ipt in iptables ip6tables; do
    if ! diff -q <(rules "${ipt}") "${BEFORE}/${ipt}" >/dev/null 2>&1; then
      left+=("${ipt} rules differ from before up.sh: $(diff <(rules "${ipt}") "${BEFORE}/${ipt}" | grep '^[<>]' | tr '\n' ' ')")
    fi
  done
fi
if [[ -f "${BEFORE}/sysctl" ]] && ! diff -q <(sysctl "${SYSCTLS[@]}" 2>/dev/null) "${BEFORE}/sysctl" >/dev/null; then
  left+=("sysctls differ from before up.sh: $(diff <(sysctl "${SYSCTLS[@]}" 2>/dev/null) "${BEFORE}/sysctl" | grep '^[<>]' | tr '\n' ' ')")
fi
log "down in $(($(now_ms) - T0))ms; logs kept in ${LOGS}"
if ((${#left[@]} > 0)); then
  printf 'realnode: left after teardown: %s\n' "${left[@]}" >&2
  exit 1
fi
log "nothing left: no process, mount, bridge, cgroup or iptables rule of the node"
