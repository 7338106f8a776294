#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, etcd) from Go modules, because no
# download site is reachable here; reuses binaries already built. Progress goes to
# stderr; the only stdout line is the folder to use as KUBEBUILDER_ASSETS.
set -euo pipefail

KUBE_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.6.16}"
ASSETS_ROOT="${ENVTEST_ASSETS_ROOT:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s}"
ASSETS="${ASSETS_ROOT}/${KUBE_VERSION}-linux-amd64"

log() { printf 'envtest: %s\n' "$*" >&2; }
# shellcheck source=k8s-modules.sh
source "$(dirname "${BASH_SOURCE[0]}")/k8s-modules.sh"

mkdir -p "${ASSETS}"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# A module whose go.mod has replace lines cannot be built with "go install pkg@version":
# build it inside a wrapper module that points each replaced module at a published version.
build_in_wrapper() {
  local module="$1" version="$2" pkg="$3" out="$4" replaces="$5"
  local dir="${work}/$(basename "${out}")"
  mkdir -p "${dir}"
  (
    cd "${dir}"
    go mod init streamreplay.local/envtest-wrapper >/dev/null 2>&1
    printf '%s' "${replaces}" >> go.mod
    go mod edit -require="${module}@${version}"
    GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "${out}" "${pkg}"
  )
}

if [[ -x "${ASSETS}/kube-apiserver" ]]; then
  log "kube-apiserver v${KUBE_VERSION} present in ${ASSETS}"
else
  log "building kube-apiserver v${KUBE_VERSION} from k8s.io/kubernetes (about 5 minutes on 2 cores, once)"
  build_in_wrapper k8s.io/kubernetes "v${KUBE_VERSION}" k8s.io/kubernetes/cmd/kube-apiserver \
    "${ASSETS}/kube-apiserver" "$(staging_replaces "${KUBE_VERSION}")"
  log "built ${ASSETS}/kube-apiserver"
fi

if [[ -x "${ASSETS}/etcd" ]]; then
  log "etcd v${ETCD_VERSION} present in ${ASSETS}"
else
  log "building etcd v${ETCD_VERSION} from go.etcd.io/etcd/server/v3 (about 20 seconds, once)"
  build_in_wrapper go.etcd.io/etcd/server/v3 "v${ETCD_VERSION}" go.etcd.io/etcd/server/v3 \
    "${ASSETS}/etcd" ""
  log "built ${ASSETS}/etcd"
fi

if [[ ! -x "${ASSETS}/kubectl" ]] && command -v kubectl >/dev/null 2>&1; then
  ln -sf "$(command -v kubectl)" "${ASSETS}/kubectl"
fi

echo "${ASSETS}"
