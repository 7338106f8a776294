#!/usr/bin/env bash
# Builds the real node's binaries from Go modules, because no download site is reachable
# here: kubelet, kube-controller-manager, kube-scheduler and kube-proxy from k8s.io/kubernetes
# (the wrapper-module trick of hack/envtest-binaries.sh), and a CoreDNS with only the plugins
# a test cluster needs (hack/realnode/coredns: no forward plugin, so no name is ever looked
# up off this machine), and crictl, with which down.sh removes every pod sandbox through the
# CRI (that is what undoes their network). Reuses binaries already built. Progress goes to stderr; the only
# stdout line is the folder holding the binaries.
set -euo pipefail

KUBE_VERSION="${REALNODE_K8S_VERSION:-1.37.2}"
CACHE="${REALNODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamreplay/realnode}/v${KUBE_VERSION}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CRICTL_VERSION="${REALNODE_CRICTL_VERSION:-1.37.0}"
KUBE_CMDS=(kubelet kube-controller-manager kube-scheduler kube-proxy)

log() { printf 'realnode: %s\n' "$*" >&2; }
# shellcheck source=../k8s-modules.sh
source "${HERE}/../k8s-modules.sh"

mkdir -p "${CACHE}"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

missing=()
for c in "${KUBE_CMDS[@]}"; do [[ -x "${CACHE}/${c}" ]] || missing+=("${c}"); done
if ((${#missing[@]} == 0)); then
  log "kubelet, kube-controller-manager, kube-scheduler, kube-proxy v${KUBE_VERSION} present in ${CACHE}"
else
  log "building ${missing[*]} v${KUBE_VERSION} from k8s.io/kubernetes (12-15 minutes on 2 idle cores, once)"
  (
    cd "${work}"
    go mod init streamreplay.local/realnode-wrapper >/dev/null 2>&1
    staging_replaces "${KUBE_VERSION}" >> go.mod
    go mod edit -require="k8s.io/kubernetes@v${KUBE_VERSION}"
    minor="${KUBE_VERSION#*.}"; minor="${minor%%.*}"
    # The version the node reports (kubectl get node); the default would be v0.0.0-master.
    ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v${KUBE_VERSION}"
    ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}"
    pkgs=(); for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/${c}"); done
    mkdir -p out
    GOFLAGS=-mod=mod go build -trimpath -ldflags="${ldflags}" -o out/ "${pkgs[@]}"
    # Move into place only when all built, so a half-finished build is never reused.
    for c in "${missing[@]}"; do mv "out/${c}" "${CACHE}/${c}"; done
  )
  log "built ${missing[*]} into ${CACHE}"
fi

if [[ -x "${CACHE}/coredns" ]]; then
  log "coredns present in ${CACHE}"
else
  log "building the minimal coredns (about 2 minutes, once)"
  (cd "${HERE}/coredns" && go build -trimpath -ldflags='-s -w' -o "${work}/coredns" .)
  mv "${work}/coredns" "${CACHE}/coredns"
  log "built ${CACHE}/coredns"
fi

if [[ -x "${CACHE}/crictl" ]]; then
  log "crictl present in ${CACHE}"
else
  log "building crictl v${CRICTL_VERSION} (about a minute, once)"
  GOBIN="${work}" go install -trimpath -ldflags='-s -w' "sigs.k8s.io/cri-tools/cmd/crictl@v${CRICTL_VERSION}"
  mv "${work}/crictl" "${CACHE}/crictl"
  log "built ${CACHE}/crictl"
fi

echo "${CACHE}"
