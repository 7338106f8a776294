#!/usr/bin/env bash
# Prints the resident memory of the running node: each process up.sh started, the
# containerd shims, and the pods' containers, and their total. Needs root.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
total=0
line=""
while read -r name pid; do
  [[ "${name}" == netdev ]] && continue
  kib="$(rss_kib "${pid}")"
  total=$((total + ${kib:-0}))
  line+="${name} $((${kib:-0} / 1024)) MiB, "
done < "${PIDS}"
shims=0
containers=0
pods=0
for shim in $(pgrep -f -- "containerd-shim-runc-v2 -namespace k8s.io -id .* -address ${CONTAINERD_SOCK}\$"); do
  shims=$((shims + $(rss_kib "${shim}")))
  # The shim's children are the pods' processes (pause and the containers).
  for child in $(pgrep -P "${shim}"); do
    containers=$((containers + $(rss_kib "${child}")))
    pods=$((pods + 1))
  done
done
echo "node stack: ${line}shims $((shims / 1024)) MiB; total $(((total + shims) / 1024)) MiB RSS without the containers"
echo "containers: ${pods} processes (pause and application), $((containers / 1024)) MiB RSS"
