#!/usr/bin/env bash
# Checks, on the running node, the guards that keep the pods' traffic on this machine, and
# prints one PASS or FAIL line per guard; exits 1 when any fails. make test-cluster runs it
# after the scenarios, so the uplink counter covers the whole run. Needs root.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "${HERE}/lib.sh"
require_root guards.sh
BIN="${REALNODE_BIN:-${REALNODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamreplay/realnode}/v${REALNODE_K8S_VERSION:-1.37.2}}"
export KUBECONFIG="${ADMIN_KUBECONFIG}"

failed=0
check() { # check DESCRIPTION COMMAND...
  local what="$1"; shift
  if "$@"; then echo "PASS ${what}"; else echo "FAIL ${what}"; failed=1; fi
}
equals() { [[ "$1" == "$2" ]] || { echo "  got '$1', want '$2'" >&2; return 1; }; }

UPLINK="$(uplink)"
check "global IPv4 forwarding off (net.ipv4.ip_forward=0)" equals "$(sysctl -n net.ipv4.ip_forward)" 0
check "forwarding on the bridge ${BRIDGE} only" equals "$(sysctl -n "net.ipv4.conf.${BRIDGE}.forwarding")" 1
if [[ -n "${UPLINK}" ]]; then
  check "no forwarding on the uplink ${UPLINK}" equals "$(sysctl -n "net.ipv4.conf.${UPLINK}.forwarding")" 0
fi
check "mangle FORWARD starts with NODE-GUARD" equals "$(iptables -w -t mangle -S FORWARD | sed -n 2p)" "-A FORWARD -j NODE-GUARD"
check "NODE-GUARD drops all but ${BRIDGE} to ${BRIDGE}" equals "$(iptables -w -t mangle -S NODE-GUARD | tail -n +2 | tr '\n' ';')" \
  "-A NODE-GUARD ! -i ${BRIDGE} -j DROP;-A NODE-GUARD ! -o ${BRIDGE} -j DROP;"
check "the Service range ${SERVICE_CIDR} is routed to ${BRIDGE}, never to the uplink" \
  equals "$(ip -4 route show "${SERVICE_CIDR}" | awk '{print $3}')" "${BRIDGE}"
if [[ -n "${UPLINK}" ]]; then
  check "mangle POSTROUTING sends everything leaving through ${UPLINK} to NODE-UPLINK" \
    equals "$(iptables -w -t mangle -S POSTROUTING | grep -c -- "-o ${UPLINK} -j NODE-UPLINK")" 1
  # The DROP rule's packet counter: packets from the pod range that tried to leave.
  leaked="$(iptables -w -t mangle -L NODE-UPLINK -v -x -n | awk -v src="${POD_CIDR}" '$3 == "DROP" && $8 == src {print $1}')"
  check "no packet from the pod range ${POD_CIDR} reached the uplink ${UPLINK} (NODE-UPLINK counter ${leaked:-missing})" \
    equals "${leaked:-missing}" 0
fi
apiserver_pid="$(awk '$1 == "apiserver" {print $2}' "${PIDS}")"
check "the API server reaches the kubelet by InternalIP, never through the machine's resolver" \
  grep -q -- '--kubelet-preferred-address-types=InternalIP' "/proc/${apiserver_pid}/cmdline"

# Every pod's network namespace: routes to the pod and Service ranges only, no default route.
routes_ok=1
sandboxes=0
for id in $("${BIN}/crictl" --config "${CRICTL_CONFIG}" pods -q --state ready 2>/dev/null); do
  netns="$("${BIN}/crictl" --config "${CRICTL_CONFIG}" inspectp "${id}" | grep -o '"/var/run/netns/[^"]*"' | head -1 | tr -d '"')"
  [[ -n "${netns}" ]] || continue # a host-network pod has no namespace of its own
  sandboxes=$((sandboxes + 1))
  if ip -n "$(basename "${netns}")" -4 route show | grep -v -E "^(${POD_CIDR}|${SERVICE_CIDR}) " | grep -q .; then
    echo "  pod sandbox ${id}: $(ip -n "$(basename "${netns}")" -4 route show | tr '\n' ';')" >&2
    routes_ok=0
  fi
done
check "no default route and no route off the node in any of the ${sandboxes} running pods" equals "${routes_ok}" 1
check "no pod uses the host's network" equals "$(kubectl get pods -A -o jsonpath='{range .items[?(@.spec.hostNetwork==true)]}{.metadata.name} {end}')" ""

# Nothing of the node listens on a wildcard address or on the uplink: only on loopback and the bridge.
wildcard=""
while read -r name pid; do
  [[ "${name}" == netdev ]] && continue
  for addr in $(ss -Hltnup 2>/dev/null | grep "pid=${pid}," | awk '{print $5}'); do
    case "${addr%:*}" in 127.0.0.1 | "${NODE_IP}" | "[::1]") ;; *) wildcard+="${name}:${addr} " ;; esac
  done
done < "${PIDS}"
check "the node's processes listen on 127.0.0.1 and ${NODE_IP} only${wildcard:+ (not: ${wildcard})}" equals "${wildcard}" ""

exit "${failed}"
