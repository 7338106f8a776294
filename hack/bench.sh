#!/usr/bin/env bash
# Benchmarks of the data plane (issues 3, 4 and 15), printed in one run:
#   (a) the worker's maximum records/s with 200-byte values, side by side with a bare
#       kafka-go Writer loop, a bare franz-go producer and kcat (librdkafka, replaying the
#       same records from a file), each against one blackhole broker (kfake answering
#       Produce without storing) in a child process, so that the client is the limit and
#       each producer's CPU time is its own: records/s and records per CPU-second;
#   (b) rate accuracy: achieved/target and the per-second coefficient of variation at 1k,
#       10k and 100k records/s (each capped at 80% of the measured maximum);
#   (c) sample loading: MB/s parsed and heap per MB of samples (internal/samples), and
#       the worker's heap per million samples held;
#   (d) the observer's DLQ and output consumption rate next to a bare kafka-go
#       consumer-group Reader and a franz-go partition consumer on the same topics.
# k6 with xk6-kafka is not among the peers: k6 is AGPL-licensed, which this project does
# not take in (see docs/design.md, "The worker").
# The last line is
#   worker-vs-franz-go=<r> worker-vs-franz-go-cpu=<r> worker-vs-kafka-go=<r> worker-vs-kcat=<r>
#   observer-vs-franz-go=<r> observer-vs-franz-go-cpu=<r> rate-error-max=<pct>
# (ratios of records/s; the -cpu ones of records per CPU-second, which a busy machine
# disturbs far less (the observer's includes the in-process broker serving the reads, so it
# understates the gap); worker-vs-kcat is n/a without kcat: apt-get install kcat).
#
# Environment: GO (default go); BENCH_MAX_SECONDS (5) per producer and round, BENCH_ROUNDS (3)
# rounds of (a), each producer keeping its best; BENCH_RATE_SECONDS (20) per rate of (b);
# BENCH_KCAT_RECORDS (1000000) records kcat replays per round. About 3 minutes with the
# defaults. On a shared machine the figures are noisy: compare the ratios of one run.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

worker_out=$(mktemp)
samples_out=$(mktemp)
observer_out=$(mktemp)
trap 'rm -f "$worker_out" "$samples_out" "$observer_out"' EXIT

echo "machine: $(nproc) cores, load average$(uptime | sed 's/.*load average//')"
echo "== (c) sample loading: go test -bench BenchmarkParse ./internal/samples/"
"$GO" test -run '^$' -bench '^BenchmarkParse' -benchmem -count=1 ./internal/samples/ | tee "$samples_out"

echo
echo "== (a) maximum rate, (b) rate accuracy, (c) worker memory: go test -bench 'BenchmarkWorker$|BenchmarkWorkerMemory' ./internal/worker/"
"$GO" test -run '^$' -bench '^(BenchmarkWorker|BenchmarkWorkerMemory)$' -benchtime=1x -count=1 -timeout 30m ./internal/worker/ | tee "$worker_out"

echo
echo "== (d) observer consumption: go test -bench BenchmarkObserverVsKafkaGo ./internal/observer/"
"$GO" test -run '^$' -bench '^BenchmarkObserverVsKafkaGo$' -benchtime=3x -count=1 ./internal/observer/ | tee "$observer_out"

echo
echo "== summary (machine load average at the end$(uptime | sed 's/.*load average//'))"
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
grep -E '^(worker memory|max round|max records/s|  [a-z-]+ +[0-9]+ records/s|rate [0-9]+/s)' "$worker_out"
grep -E '^observer' "$observer_out" | grep -v -- '-vs-franz-go' || true
# field NAME FILE: the value of NAME=<value> on the file's summary line.
field() { grep -oE "(^| )$1=[^ ]+" "$2" | tail -n 1 | sed "s/^ *$1=//"; }
observer=$(field observer-vs-franz-go "$observer_out")
if [ -z "$observer" ]; then
	echo "bench: the observer benchmark printed no observer-vs-franz-go line" >&2
	exit 1
fi
franz=$(field worker-vs-franz-go "$worker_out")
if [ -z "$franz" ]; then
	echo "bench: the worker benchmark printed no summary line" >&2
	exit 1
fi
echo "worker-vs-franz-go=$franz worker-vs-franz-go-cpu=$(field worker-vs-franz-go-cpu "$worker_out") worker-vs-kafka-go=$(field worker-vs-kafka-go "$worker_out") worker-vs-kcat=$(field worker-vs-kcat "$worker_out") observer-vs-franz-go=$observer observer-vs-franz-go-cpu=$(field observer-vs-franz-go-cpu "$observer_out") rate-error-max=$(field rate-error-max "$worker_out")"
