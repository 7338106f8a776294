#!/usr/bin/env bash
# Benchmarks of the replay worker (issue 3), printed in one run:
#   (a) the worker's maximum records/s with 200-byte values, next to a bare kafka-go Writer
#       loop and a bare franz-go producer on the same broker (kfake answering Produce
#       without storing, so the client is the limit);
#   (b) rate accuracy: achieved/target and the per-second coefficient of variation at 1k,
#       10k and 100k records/s (each capped at 80% of the measured maximum);
#   (c) sample loading: MB/s parsed and heap per MB of samples (internal/samples' benchmarks).
#   (d) the observer's DLQ and output consumption rate next to a bare kafka-go consumer-group
#       Reader on the same topics (issue 4).
# The last two lines are: observer-vs-kafka-go=<ratio>, then
# worker-vs-kafka-go=<ratio> worker-vs-franz-go=<ratio> rate-error-max=<percent>
#
# Environment: GO (default go); BENCH_MAX_SECONDS (5) per producer and round, BENCH_ROUNDS (3)
# rounds of (a), each producer keeping its best; BENCH_RATE_SECONDS (20) per rate of (b).
# About 2.5 minutes with the defaults. The machine should be otherwise idle: the producers
# share its cores with the in-process broker.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

worker_out=$(mktemp)
samples_out=$(mktemp)
observer_out=$(mktemp)
trap 'rm -f "$worker_out" "$samples_out" "$observer_out"' EXIT

echo "== (c) sample loading: go test -bench BenchmarkParse ./internal/samples/"
"$GO" test -run '^$' -bench '^BenchmarkParse' -benchmem -count=1 ./internal/samples/ | tee "$samples_out"

echo
echo "== (a) maximum rate and (b) rate accuracy: go test -bench BenchmarkWorker ./internal/worker/"
"$GO" test -run '^$' -bench '^BenchmarkWorker$' -benchtime=1x -count=1 -timeout 30m ./internal/worker/ | tee "$worker_out"

echo
echo "== (d) observer consumption: go test -bench BenchmarkObserverVsKafkaGo ./internal/observer/"
"$GO" test -run '^$' -bench '^BenchmarkObserverVsKafkaGo$' -benchtime=3x -count=1 ./internal/observer/ | tee "$observer_out"

echo
echo "== summary"
# A benchmark line is "BenchmarkName-N  iterations  value unit  value unit ...".
awk '/^BenchmarkParse/ {
	name = $1; sub(/^BenchmarkParse/, "", name); sub(/-[0-9]+$/, "", name)
	mbs = ""; heap = ""
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "MB/s") mbs = $i
		if ($(i+1) == "heap-B/B") heap = $i
	}
	printf "samples %-14s %8s MB/s parsed, %s MB of heap per MB of samples\n", name, mbs, heap
}' "$samples_out"
grep -E '^(max round|max records/s|rate [0-9]+/s)' "$worker_out"
observer=$(grep -E '^observer-vs-kafka-go=' "$observer_out" | tail -n 1 || true)
if [ -z "$observer" ]; then
	echo "bench: the observer benchmark printed no summary line" >&2
	exit 1
fi
echo "$observer"
summary=$(grep -E '^worker-vs-kafka-go=' "$worker_out" || true)
if [ -z "$summary" ]; then
	echo "bench: the worker benchmark printed no summary line" >&2
	exit 1
fi
echo "$summary"
