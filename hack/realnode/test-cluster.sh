#!/usr/bin/env bash
# make test-cluster: brings the real node up, runs test/cluster's scenarios on it with
# kubectl, checks the traffic guards and the node's memory, and tears the node down, also
# when something failed (KEEP=1 keeps it for kubectl). Prints the time of each part.
# Needs root, the node binaries (build.sh), the envtest binaries (KUBEBUILDER_ASSETS) and
# the images (make image, in REALNODE_IMAGES).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
# shellcheck source=lib.sh
source "${HERE}/lib.sh"
require_root "make test-cluster"
export REALNODE_DIR REALNODE_IMAGES
GO="${GO:-go}"
KEEP="${KEEP:-0}"
TEST_RUN="${TEST_RUN:-.}"

bash "${HERE}/deps.sh" || exit 1
BIN="$(bash "${HERE}/build.sh")" || exit 1
export REALNODE_BIN="${BIN}"

t_up=0 t_run=0 t_down=0
teardown() {
  local rc=$?
  if [[ "${KEEP}" == 1 ]]; then
    log "KEEP=1: the cluster stays up. Use it with: export KUBECONFIG=${ADMIN_KUBECONFIG}; take it down with: make node-down"
  else
    local t0="${SECONDS}"
    bash "${HERE}/down.sh" || rc=1
    t_down=$((SECONDS - t0))
  fi
  printf 'test-cluster: bring-up %ss, scenarios %ss, teardown %ss\n' "${t_up}" "${t_run}" "${t_down}"
  exit "${rc}"
}

t0="${SECONDS}"
trap teardown EXIT
kubeconfig="$(bash "${HERE}/up.sh")" || exit 1
t_up=$((SECONDS - t0))
log "node up in ${t_up}s; kubeconfig ${kubeconfig}"

t0="${SECONDS}"
rc=0
(
  cd "${ROOT}" &&
    STREAMREPLAY_CLUSTER=realnode STREAMREPLAY_KUBECONFIG="${kubeconfig}" \
      "${GO}" test ./test/cluster/ -run "${TEST_RUN}" -count=1 -v -timeout 60m ${TEST_FLAGS:-}
) || rc=1
t_run=$((SECONDS - t0))
bash "${HERE}/memory.sh"
bash "${HERE}/guards.sh" || rc=1
exit "${rc}"
