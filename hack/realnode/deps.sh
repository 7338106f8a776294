#!/usr/bin/env bash
# Installs the Debian packages the real node runs on when any is missing: containerd (1.6 on
# Debian 12), runc, the CNI plugins (bridge, host-local, loopback in /usr/lib/cni), iptables
# and conntrack (kube-proxy). Needs root. Does nothing when all are present.
set -euo pipefail

PACKAGES=(containerd runc containernetworking-plugins iptables conntrack)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q 'install ok installed' || missing+=("${p}")
done
if ((${#missing[@]} == 0)); then
  echo "realnode: Debian packages present: ${PACKAGES[*]}" >&2
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "realnode: missing Debian packages ${missing[*]}; run as root (or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "realnode: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# --no-install-recommends: no extra services; the node starts its own containerd, so the
# packaged containerd service is stopped and kept from starting again.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet containerd 2>/dev/null; then
  systemctl stop containerd && systemctl disable --quiet containerd || true
fi
