package worker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
)

// The producer benchmarks run against kfake answering Produce without storing anything
// (see blackholeBroker), so the client is the limit. Each benchmark is one timed run, not
// b.N operations: run them with -benchtime=1x (hack/bench.sh does). Durations come from
// $BENCH_MAX_SECONDS (default 5) and $BENCH_RATE_SECONDS (default 20).

const (
	benchValueBytes = 200
	benchSamples    = 10_000
	benchKeys       = 1_000
	benchPartitions = 6
	benchWarmup     = time.Second
	benchRunID      = "4f9c2a4e-8a6b-4bb8-9a57-2c0d1f7e6b10" // a LoadTest UID
)

func benchSeconds(env string, def int) time.Duration {
	if n, err := strconv.Atoi(os.Getenv(env)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return time.Duration(def) * time.Second
}

// blackholeBroker is a kfake cluster whose Produce requests are answered at once with
// success and not stored; it counts the records it receives per second from a start.
type blackholeBroker struct {
	c       *kfake.Cluster
	brokers []string

	mu     sync.Mutex
	start  time.Time
	counts []int64 // records per second since start
}

func newBlackhole(b *testing.B) *blackholeBroker {
	b.Helper()
	bh, err := startBlackhole()
	if err != nil {
		b.Fatal(err)
	}
	return bh
}

func startBlackhole() (*blackholeBroker, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(benchPartitions, "bench"))
	if err != nil {
		return nil, err
	}
	bh := &blackholeBroker{c: c, brokers: c.ListenAddrs()}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		n := 0
		for _, topic := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = topic.Topic, topic.TopicID
			for _, p := range topic.Partitions {
				n += countRecords(p.Records)
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		bh.count(n)
		if pr.Acks == 0 {
			return nil, nil, true
		}
		return resp, nil, true
	})
	return bh, nil
}

// envBlackholeChild makes the test binary serve a blackhole broker instead of running
// tests: it prints the brokers' addresses and serves until its standard input closes.
// The producers' maximum rates are measured against it, so that the benchmark process's
// CPU time is the producer's own.
const envBlackholeChild = "STREAMREPLAY_BENCH_BLACKHOLE"

func TestMain(m *testing.M) {
	if os.Getenv(envBlackholeChild) != "" {
		bh, err := startBlackhole()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(strings.Join(bh.brokers, ","))
		_, _ = io.Copy(io.Discard, os.Stdin)
		bh.c.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// blackholeProcess starts a blackhole broker in a child process and returns its brokers.
func blackholeProcess(b *testing.B) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envBlackholeChild+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the blackhole broker process printed no addresses: %v", err)
	}
	return strings.Split(strings.TrimSpace(line), ",")
}

// cpuTime is the CPU time this process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (bh *blackholeBroker) count(n int) {
	bh.mu.Lock()
	defer bh.mu.Unlock()
	if bh.start.IsZero() {
		return
	}
	if sec := int(time.Since(bh.start) / time.Second); sec >= 0 {
		for len(bh.counts) <= sec {
			bh.counts = append(bh.counts, 0)
		}
		bh.counts[sec] += int64(n)
	}
}

// countFrom starts the per-second counts at start.
func (bh *blackholeBroker) countFrom(start time.Time) {
	bh.mu.Lock()
	defer bh.mu.Unlock()
	bh.start, bh.counts = start, nil
}

func (bh *blackholeBroker) perSecond(n int) []int64 {
	bh.mu.Lock()
	defer bh.mu.Unlock()
	out := make([]int64, n)
	copy(out, bh.counts)
	return out
}

func benchSampleFile(b *testing.B) string { return benchSampleFileOf(b, benchSamples) }

// benchSampleFileOf writes n bench samples: 200-byte values over benchKeys keys.
func benchSampleFileOf(b *testing.B, n int) string {
	lines := make([]sampleLine, n)
	value := strings.Repeat("x", benchValueBytes-19)
	for i := range lines {
		k := fmt.Sprintf("customer-%d", i%benchKeys)
		lines[i] = sampleLine{Key: &k, Value: fmt.Sprintf("%019d%s", i, value)}
	}
	return writeSamples(b, lines)
}

// peerRate is a producer's steady rate: records per second, and per CPU-second of the
// producer's process.
type peerRate struct{ perSecond, perCPUSecond float64 }

// steadyRate samples acked() and the process's CPU time after the warm-up and at the
// end of the run, and returns the rates in between.
func steadyRate(acked func() int64, runFor time.Duration) peerRate {
	time.Sleep(benchWarmup)
	t0, n0, c0 := time.Now(), acked(), cpuTime()
	time.Sleep(runFor - benchWarmup)
	n, cpu := float64(acked()-n0), cpuTime()-c0
	return peerRate{n / time.Since(t0).Seconds(), n / max(cpu.Seconds(), 1e-3)}
}

// best keeps, per field, the better of two rounds.
func (r peerRate) best(o peerRate) peerRate {
	return peerRate{max(r.perSecond, o.perSecond), max(r.perCPUSecond, o.perCPUSecond)}
}

// benchResults are shared between the sub-benchmarks for the summary line.
var benchResults struct {
	worker, kafkaGo, franzGo, kcat peerRate
	rateErrMax                     float64
	rateRuns                       int
}

// BenchmarkWorker measures (a) the worker's maximum rate next to bare kafka-go and
// franz-go producers on the same broker, and (b) its rate accuracy at 1k, 10k and 100k
// records/s (each capped at 80% of the measured maximum), then prints the summary line.
func BenchmarkWorker(b *testing.B) {
	maxFor := benchSeconds("BENCH_MAX_SECONDS", 5)
	rateFor := benchSeconds("BENCH_RATE_SECONDS", 20)
	rounds := int(benchSeconds("BENCH_ROUNDS", 3) / time.Second)
	b.Run("max", func(b *testing.B) {
		// The producers take turns against one blackhole broker in a child process, and
		// each keeps its best round: on a shared machine the best is the run least
		// disturbed by others.
		brokers := blackholeProcess(b)
		kcatFile, kcatRecords := "", 0
		if _, err := exec.LookPath("kcat"); err == nil {
			kcatFile, kcatRecords = benchKcatFile(b)
		} else {
			fmt.Println("kcat: not installed (apt-get install kcat); its column stays empty")
		}
		r := &benchResults
		for i := range rounds {
			w, k, f := benchWorkerMax(b, brokers, maxFor), benchKafkaGo(b, brokers, maxFor), benchFranzGo(b, brokers, maxFor)
			var c peerRate
			if kcatFile != "" {
				c = benchKcat(b, brokers, kcatFile, kcatRecords)
			}
			fmt.Printf("max round %d: worker=%.0f kafka-go=%.0f franz-go=%.0f kcat=%.0f records/s\n", i+1,
				w.perSecond, k.perSecond, f.perSecond, c.perSecond)
			r.worker, r.kafkaGo, r.franzGo, r.kcat = r.worker.best(w), r.kafkaGo.best(k), r.franzGo.best(f), r.kcat.best(c)
		}
		b.ReportMetric(r.worker.perSecond, "worker-records/s")
		b.ReportMetric(r.kafkaGo.perSecond, "kafka-go-records/s")
		b.ReportMetric(r.franzGo.perSecond, "franz-go-records/s")
		b.ReportMetric(r.kcat.perSecond, "kcat-records/s")
		b.ReportMetric(0, "ns/op")
	})
	for _, rate := range []int64{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("rate/%d", rate), func(b *testing.B) { benchRate(b, rate, rateFor) })
	}
	w := benchResults
	if w.kafkaGo.perSecond > 0 && w.franzGo.perSecond > 0 {
		fmt.Println("max records/s (200-byte values), and records per CPU-second of the producer's process:")
		for _, p := range []struct {
			name string
			r    peerRate
		}{{"worker", w.worker}, {"kafka-go", w.kafkaGo}, {"franz-go", w.franzGo}, {"kcat", w.kcat}} {
			fmt.Printf("  %-9s %10.0f records/s %10.0f records/CPU-s\n", p.name, p.r.perSecond, p.r.perCPUSecond)
		}
		kcat := "n/a"
		if w.kcat.perSecond > 0 {
			kcat = fmt.Sprintf("%.3f", w.worker.perSecond/w.kcat.perSecond)
		}
		// The -cpu ratio compares records per CPU-second: it holds on a busy machine, where
		// records/s measures the share of the cores each producer happened to get.
		fmt.Printf("worker-vs-franz-go=%.3f worker-vs-franz-go-cpu=%.3f worker-vs-kafka-go=%.3f worker-vs-kcat=%s rate-error-max=%.3f%%\n",
			w.worker.perSecond/w.franzGo.perSecond, w.worker.perCPUSecond/w.franzGo.perCPUSecond,
			w.worker.perSecond/w.kafkaGo.perSecond, kcat, w.rateErrMax)
	}
}

func benchPlan(brokers []string, path string, rate int64, d time.Duration) *plan.Plan {
	return &plan.Plan{
		Role: results.RoleWorker, RunID: benchRunID, LoadTest: "bench/lt", Index: 0, Workers: 1,
		Scenario: plan.Scenario{Type: "Constant", TargetRate: rate},
		Duration: metav1.Duration{Duration: d},
		Samples:  plan.Samples{Path: path, Format: "JSONLines", Loop: true},
		Kafka:    plan.Kafka{BootstrapServers: brokers},
		Target:   plan.Target{Topic: "bench", Partitioning: "Key", Acks: "All", Compression: "None"},
	}
}

func benchWorkerMax(b *testing.B, brokers []string, runFor time.Duration) peerRate {
	w, err := New(benchPlan(brokers, benchSampleFile(b), 50_000_000, runFor), Options{Log: logr.Discard(), BatchSize: benchBatchSize()})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Prepare(context.Background()); err != nil {
		b.Fatal(err)
	}
	done := make(chan *WorkerResultOrErr, 1)
	go func() {
		r, err := w.Run(context.Background(), time.Now())
		done <- &WorkerResultOrErr{r.Worker.Acked, r.Worker.Failed, err}
	}()
	rate := steadyRate(w.st.completed.Load, runFor)
	res := <-done
	if res.err != nil || res.failed > 0 {
		b.Fatalf("run: %v, %d failed", res.err, res.failed)
	}
	return rate
}

// WorkerResultOrErr is what the benchmark's run goroutine hands back.
type WorkerResultOrErr struct {
	acked, failed int64
	err           error
}

// benchMessages are the records the worker sends, as kafka-go messages: the same keys
// and values, and the four run headers with values of the same sizes (fixed ones: the
// bare loops do not build them), so that every producer puts the same bytes on the wire.
func benchMessages() []kafka.Message {
	value := strings.Repeat("x", benchValueBytes-19)
	headers := []kafka.Header{
		{Key: runheaders.RunID, Value: []byte(benchRunID)},
		{Key: runheaders.Worker, Value: []byte("0")},
		{Key: runheaders.Sequence, Value: []byte("1234567")},
		{Key: runheaders.Intended, Value: []byte("1795741234567890123")},
	}
	msgs := make([]kafka.Message, benchSamples)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: "bench", Key: fmt.Appendf(nil, "customer-%d", i%benchKeys),
			Value: []byte(fmt.Sprintf("%019d%s", i, value)), Headers: headers}
	}
	return msgs
}

// benchInFlight is the worker's in-flight bound for the bench records, for the bare loops.
func benchInFlight() int {
	m := benchMessages()[0]
	size := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		size += len(h.Key) + len(h.Value)
	}
	return min(max(maxInFlightBytes/(size+recordOverhead), minInFlight), maxInFlight)
}

func benchBatchSize() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_BATCH_SIZE")); err == nil && n > 0 {
		return n
	}
	return maxBatchSize
}

// benchKafkaGo is a bare kafka-go loop: the worker's writer settings and in-flight bound,
// no pacing, run headers or measurement.
func benchKafkaGo(b *testing.B, brokers []string, runFor time.Duration) peerRate {
	var acked, failed atomic.Int64
	wr := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Balancer: kafka.Murmur2Balancer{}, MaxAttempts: defaultMaxAttempts,
		BatchSize: benchBatchSize(), BatchBytes: defaultBatchBytes, BatchTimeout: defaultLinger,
		RequiredAcks: kafka.RequireAll, Async: true,
		Completion: func(msgs []kafka.Message, err error) {
			if err != nil {
				failed.Add(int64(len(msgs)))
			}
			acked.Add(int64(len(msgs)))
		},
	}
	msgs := benchMessages()
	limit := int64(benchInFlight())
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	looped := make(chan struct{})
	go func() {
		defer close(looped)
		var sent int64
		for i := 0; ctx.Err() == nil; {
			if sent-acked.Load() >= limit {
				time.Sleep(fullWait)
				continue
			}
			n := min(maxChunk, len(msgs)-i)
			if err := wr.WriteMessages(context.Background(), msgs[i:i+n]...); err != nil {
				b.Error(err)
				return
			}
			sent += int64(n)
			if i += n; i == len(msgs) {
				i = 0
			}
		}
	}()
	rate := steadyRate(acked.Load, runFor)
	// kafka-go's Close must not race a WriteMessages: it would wait for ever for the
	// partition writers that call creates.
	<-looped
	_ = wr.Close()
	if failed.Load() > 0 {
		b.Fatalf("%d records failed", failed.Load())
	}
	return rate
}

// benchFranzGo is a bare franz-go producer with the same linger, acks, compression and
// buffer bound. franz-go compresses with snappy unless told otherwise, which on the bench's
// repetitive values puts a fraction of the bytes on the wire that the others send.
func benchFranzGo(b *testing.B, brokers []string, runFor time.Duration) peerRate {
	limit := benchInFlight()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("bench"),
		kgo.ProducerLinger(defaultLinger), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(limit), kgo.ProducerBatchMaxBytes(defaultBatchBytes))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	msgs := benchMessages()
	kgoHeaders := make([]kgo.RecordHeader, len(msgs[0].Headers))
	for i, h := range msgs[0].Headers {
		kgoHeaders[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	var acked, failed atomic.Int64
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
		}
		acked.Add(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	go func() {
		for i := 0; ctx.Err() == nil; {
			m := &msgs[i]
			cl.Produce(ctx, &kgo.Record{Key: m.Key, Value: m.Value, Headers: kgoHeaders}, promise)
			if i++; i == len(msgs) {
				i = 0
			}
		}
	}()
	rate := steadyRate(acked.Load, runFor)
	<-ctx.Done()
	if failed.Load() > 0 {
		b.Logf("%d records cancelled in the buffer at the end", failed.Load())
	}
	return rate
}

// benchRate runs the worker at a fixed rate and reports achieved/target and the
// coefficient of variation of the records the broker receives per second.
func benchRate(b *testing.B, rate int64, runFor time.Duration) {
	if m := benchResults.worker.perSecond; m > 0 && float64(rate) > 0.8*m {
		rate = int64(0.8 * m)
		b.Logf("rate capped at 80%% of the measured maximum: %d records/s", rate)
	}
	bh := newBlackhole(b)
	defer bh.c.Close()
	w, err := New(benchPlan(bh.brokers, benchSampleFile(b), rate, runFor), Options{Log: logr.Discard()})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Prepare(context.Background()); err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(100 * time.Millisecond).Truncate(time.Millisecond)
	bh.countFrom(start)
	b.ResetTimer()
	rep, err := w.Run(context.Background(), start)
	if err != nil {
		b.Fatal(err)
	}
	// Let the last batches arrive, then read the windows.
	time.Sleep(50 * time.Millisecond)
	secs := int(runFor / time.Second)
	counts := bh.perSecond(secs + 1)
	var sum, sq float64
	for _, c := range counts[:secs] {
		sum += float64(c)
	}
	mean := sum / float64(secs)
	for _, c := range counts[:secs] {
		sq += (float64(c) - mean) * (float64(c) - mean)
	}
	cv := math.Sqrt(sq/float64(secs)) / mean
	total := sum + float64(counts[secs]) // a batch may land just after the end
	achieved := total / (float64(rate) * runFor.Seconds())
	errPct := math.Abs(achieved-1) * 100
	benchResults.rateErrMax = max(benchResults.rateErrMax, errPct)
	benchResults.rateRuns++
	r := rep.Worker
	fmt.Printf("rate %d/s over %s: achieved/target=%.5f cv=%.4f acked=%d failed=%d maxBehind=%s p99=%s\n",
		rate, runFor, achieved, cv, r.Acked, r.Failed, r.MaxBehind, r.Latency.Quantile(0.99))
	b.ReportMetric(achieved, "achieved/target")
	b.ReportMetric(cv, "cv")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWorkerAlone runs only the worker at its maximum rate, for a CPU profile of the
// producer (go test -bench WorkerAlone -benchtime=1x -cpuprofile cpu.out).
func BenchmarkWorkerAlone(b *testing.B) {
	rate := benchWorkerMax(b, blackholeProcess(b), benchSeconds("BENCH_MAX_SECONDS", 5))
	b.ReportMetric(rate.perSecond, "worker-records/s")
	b.ReportMetric(0, "ns/op")
}

// benchKcatFile writes the bench records for kcat -K '\t' -l: key, tab, value per line,
// $BENCH_KCAT_RECORDS of them (default 1,000,000), the same keys and values as the
// other producers send.
func benchKcatFile(b *testing.B) (string, int) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_KCAT_RECORDS")); err == nil && v > 0 {
		n = v
	}
	msgs := benchMessages()
	path := filepath.Join(b.TempDir(), "kcat.tsv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		m := &msgs[i%len(msgs)]
		_, _ = w.Write(m.Key)
		_ = w.WriteByte('\t')
		_, _ = w.Write(m.Value)
		_ = w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, n
}

// benchKcat replays the file with kcat (librdkafka) with the worker's settings: acks
// all, a 5 ms linger, batches of up to 2048 records and 1 MiB, murmur2 partitioning
// (the Java client's), no idempotence, and the same run headers (fixed values, as the
// bare Go loops send). Its rate is the records over kcat's run time, start-up included
// (a few milliseconds), and its CPU time is kcat's own (rusage).
func benchKcat(b *testing.B, brokers []string, path string, records int) peerRate {
	headers := benchMessages()[0].Headers
	args := []string{"-P", "-b", strings.Join(brokers, ","), "-t", "bench", "-K", "\t", "-l",
		"-X", "acks=all", "-X", "linger.ms=" + strconv.Itoa(int(defaultLinger/time.Millisecond)),
		"-X", "batch.num.messages=" + strconv.Itoa(benchBatchSize()), "-X", "batch.size=" + strconv.Itoa(defaultBatchBytes),
		"-X", "enable.idempotence=false", "-X", "partitioner=murmur2_random",
		"-X", "queue.buffering.max.messages=" + strconv.Itoa(benchInFlight())}
	for _, h := range headers {
		args = append(args, "-H", h.Key+"="+string(h.Value))
	}
	cmd := exec.Command("kcat", append(args, path)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("kcat: %v: %s", err, stderr.String())
	}
	took := time.Since(began)
	if stderr.Len() > 0 {
		b.Fatalf("kcat reported errors: %s", stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return peerRate{float64(records) / took.Seconds(), float64(records) / max(cpu.Seconds(), 1e-3)}
}

// BenchmarkWorkerMemory measures the heap a prepared worker holds per million samples
// of 200-byte values ($BENCH_MEMORY_SAMPLES samples, default 200,000, scaled).
func BenchmarkWorkerMemory(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_MEMORY_SAMPLES")); err == nil && v > 0 {
		n = v
	}
	bh := newBlackhole(b)
	defer bh.c.Close()
	path := benchSampleFileOf(b, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, err := New(benchPlan(bh.brokers, path, 1000, time.Minute), Options{Log: logr.Discard()})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Prepare(context.Background()); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(w)
	perMillion := float64(after.HeapAlloc-before.HeapAlloc) / float64(n) * 1e6 / (1 << 20)
	fmt.Printf("worker memory: %.0f MiB of heap per million samples held (200-byte values, %d samples)\n", perMillion, n)
	b.ReportMetric(perMillion, "MiB/million-samples")
	b.ReportMetric(0, "ns/op")
}
