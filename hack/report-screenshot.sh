#!/usr/bin/env bash
# Regenerates docs/report.png: runs the sandbox demo against the pipeline capped at 300
# records/s (`make demo-fail`; DEMO=pass for `make demo`), writes its report with
# `kubectl streamreplay report`, and captures it with headless Chromium, no network.
# Needs bin/ from `make build`, KUBEBUILDER_ASSETS (make sets it) and chromium-headless-shell.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/docs/report.png}
demo=${DEMO:-fail}
height=${HEIGHT:-2650}
chromium=$(command -v chromium-headless-shell || command -v chromium || true)
if [[ -z $chromium ]]; then
	echo "report-screenshot: no chromium-headless-shell on PATH (apt-get install chromium-headless-shell)" >&2
	exit 1
fi
: "${KUBEBUILDER_ASSETS:?run through make report-screenshot, which sets it}"

work=$(mktemp -d)
sandbox_pid=
cleanup() {
	if [[ -n $sandbox_pid ]]; then
		kill "$sandbox_pid" 2>/dev/null || true
		wait "$sandbox_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

flags=(--keep --workdir "$work/sandbox" --pod-binary "$root/bin/streamreplay")
name=crm-cdc-demo
if [[ $demo == fail ]]; then
	flags+=(--fail)
	name=crm-cdc-demo-slow
fi
"$root/bin/streamreplay-sandbox" "${flags[@]}" >"$work/demo.out" 2>&1 &
sandbox_pid=$!
for _ in $(seq 600); do
	grep -q "The sandbox keeps running" "$work/demo.out" && break
	if ! kill -0 "$sandbox_pid" 2>/dev/null; then
		cat "$work/demo.out" >&2
		echo "report-screenshot: the sandbox ended before its verdict" >&2
		exit 1
	fi
	sleep 1
done
grep -q "The sandbox keeps running" "$work/demo.out" || { cat "$work/demo.out" >&2; exit 1; }

export KUBECONFIG=$work/sandbox/kubeconfig
"$root/bin/kubectl-streamreplay" report "$name" -o "$work/report.html"
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
	--user-data-dir="$work/profile" --proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" \
	--hide-scrollbars --force-device-scale-factor=1 --window-size=1000,"$height" \
	--screenshot="$out" "file://$work/report.html" 2>/dev/null
echo "report-screenshot: $out ($(wc -c <"$out") bytes) from LoadTest $name"
