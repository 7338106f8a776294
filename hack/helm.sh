#!/usr/bin/env bash
# Builds the helm CLI from the Go module proxy (hack/helm/go.mod pins it, apart from the main
# go.mod so that the product does not depend on helm) into a cache outside the repository,
# once per version. Progress goes to stderr; the only stdout line is the helm binary's path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GO="${GO:-go}"
version="$("${GO}" -C "${here}/helm" list -m -f '{{.Version}}' helm.sh/helm/v3)"
dir="${STREAMREPLAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamreplay}/helm/${version}"
bin="${dir}/helm"

if [[ -x "${bin}" ]]; then
  printf 'helm: %s present in %s\n' "${version}" "${dir}" >&2
else
  printf 'helm: building %s from helm.sh/helm/v3 (about 3 minutes on 2 cores, once)\n' "${version}" >&2
  mkdir -p "${dir}"
  # helm prints its own version from this variable (helm version).
  CGO_ENABLED=0 "${GO}" -C "${here}/helm" build -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${version}" \
    -o "${bin}.tmp" helm.sh/helm/v3/cmd/helm
  mv "${bin}.tmp" "${bin}"
  printf 'helm: built %s\n' "${bin}" >&2
fi
echo "${bin}"
