# Sourced by hack/envtest-binaries.sh and hack/realnode/build.sh, which build Kubernetes
# commands from k8s.io/kubernetes. That module replaces its k8s.io/* staging modules with
# local folders, so "go install pkg@version" cannot build it: the scripts build inside a
# wrapper module that points each replaced module at its published version.

# staging_replaces VERSION prints a replace line for every "k8s.io/<x> => ./staging/..." of
# k8s.io/kubernetes@vVERSION's go.mod, pointed at v0.<minor>.<patch>.
staging_replaces() {
  local gomod staging_version
  gomod="$(go mod download -json "k8s.io/kubernetes@v$1" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  staging_version="v0.${1#*.}"
  grep -oE '^\s*k8s\.io/[A-Za-z0-9._/-]+ => \./staging/' "${gomod}" | awk '{print $1}' | sort -u |
    while read -r m; do printf 'replace %s => %s %s\n' "${m}" "${m}" "${staging_version}"; done
}
