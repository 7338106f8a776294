package worker

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/runheaders"
	"github.com/streamreplay/streamreplay/internal/samples"
)

// TestAckedRecordsAreInTheTopicOnce checks the core promise: every record the worker
// counts as acknowledged is in the target topic exactly once, with the run headers next
// to the sample's own, and the records of one key stay in order within their partition.
// A topic recorded in a sample is not written to, even when it exists.
func TestAckedRecordsAreInTheTopicOnce(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 6, "orders", "audit")
	lines := keyedSamples(200, 20)
	for i := 0; i < len(lines); i += 10 {
		lines[i].Topic = topics[1] // recorded there; still replayed into the target
	}
	// Recorded from an earlier run: its run header gives way to this run's (consumeAll
	// fails on a repeated header).
	lines[5].Headers[runheaders.RunID] = "an-earlier-run"

	p := testPlan(k, topics[0], writeSamples(t, lines), plan.Scenario{Type: "Constant", TargetRate: 2000}, 1500*time.Millisecond)
	r, _, acked := runTracked(context.Background(), t, p, Options{})
	if r.Acked != 3000 || r.Failed != 0 || r.Scheduled != 3000 {
		t.Fatalf("scheduled %d acked %d failed %d (%v), want 3000 acked", r.Scheduled, r.Acked, r.Failed, r.Errors)
	}
	got := consumeAll(t, k, r.Acked, topics...)
	if int64(len(got)) != r.Acked {
		t.Fatalf("read %d records back, want the %d acked", len(got), r.Acked)
	}
	seen := map[int64]bool{}
	lastSeq := map[string]int64{} // per partition and key
	for _, c := range got {
		m := c.meta
		if m.RunID != p.RunID || m.Worker != 0 {
			t.Fatalf("record %s/%d@%d has run headers %+v", c.topic, c.partition, c.offset, m)
		}
		if seen[m.Sequence] {
			t.Fatalf("sequence %d is in the topics twice", m.Sequence)
		}
		seen[m.Sequence] = true
		sample := lines[m.Sequence%int64(len(lines))]
		wantTopic := topics[0]
		if c.topic != wantTopic || c.key != *sample.Key || c.value != sample.Value || c.headers["sample-id"] != sample.Headers["sample-id"] {
			t.Fatalf("record seq %d = %s key %q value %q headers %v; want sample %d on %s", m.Sequence, c.topic, c.key, c.value, c.headers, m.Sequence%int64(len(lines)), wantTopic)
		}
		if m.Intended.IsZero() || c.headers[runheaders.Intended] == "" {
			t.Fatalf("record seq %d has no intended time", m.Sequence)
		}
		pk := fmt.Sprintf("%s/%d/%s", c.topic, c.partition, c.key)
		if last, ok := lastSeq[pk]; ok && m.Sequence < last {
			t.Fatalf("key %s: seq %d after %d in its partition", pk, m.Sequence, last)
		}
		lastSeq[pk] = m.Sequence
	}
	for seq := range acked {
		if !seen[seq] {
			t.Fatalf("acked sequence %d is missing", seq)
		}
	}
}

// TestScenarioSchedules checks each scenario's schedule through what reached Kafka: the
// records' intended send times (their headers), counted per second, match the scenario's
// rate exactly, and no record reached a broker before its intended time. How late records
// arrive is not asserted: a busy machine makes sends late (maxBehind measures it), while
// an early send is a bug on any machine.
func TestScenarioSchedules(t *testing.T) {
	t.Parallel()
	stages := []plan.Stage{{Duration: metav1.Duration{Duration: time.Second}, TargetRate: 1000}, {Duration: metav1.Duration{Duration: time.Second}, TargetRate: 1000}}
	for name, tc := range map[string]struct {
		sc     plan.Scenario
		replay bool
		want   []int // records intended per second
	}{
		"Constant": {sc: plan.Scenario{Type: "Constant", TargetRate: 1000}, want: []int{1000, 1000}},
		"Ramp":     {sc: plan.Scenario{Type: "Ramp", StartRate: 0, TargetRate: 2000}, want: []int{500, 1500}},
		"Stages":   {sc: plan.Scenario{Type: "Stages", Stages: stages}, want: []int{500, 1000}},
		// 100 samples 10 ms apart at speed 2: 200 records per second.
		"Replay": {sc: plan.Scenario{Type: "Replay", Speed: "2"}, replay: true, want: []int{200, 200}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			k, topics := newKafka(t, 3, "in")
			a := watchArrivals(k.needFake(t))
			lines := keyedSamples(100, 10)
			if tc.replay {
				t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
				for i := range lines {
					lines[i].Timestamp = t0.Add(time.Duration(i) * 10 * time.Millisecond).Format(time.RFC3339Nano)
				}
			}
			p := testPlan(k, topics[0], writeSamples(t, lines), tc.sc, 2*time.Second)
			w, err := New(p, Options{Log: testLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Prepare(context.Background()); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			rep, err := w.Run(context.Background(), start)
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Worker
			var wantTotal int
			for _, n := range tc.want {
				wantTotal += n
			}
			if r.Scheduled != int64(wantTotal) || r.Acked != r.Scheduled {
				t.Fatalf("scheduled %d acked %d (maxBehind %v), want %d", r.Scheduled, r.Acked, r.MaxBehind, wantTotal)
			}
			got := make([]int, len(tc.want))
			for _, c := range consumeAll(t, k, r.Acked, topics[0]) {
				if s := int(c.meta.Intended.Sub(start) / time.Second); s >= 0 && s < len(got) {
					got[s]++
				} else {
					t.Errorf("record %d intended at +%v, outside the run", c.meta.Sequence, c.meta.Intended.Sub(start))
				}
			}
			if !slices.Equal(tc.want, got) {
				t.Errorf("records intended per second %v, want %v", got, tc.want)
			}
			if early := a.early(); len(early) > 0 {
				t.Errorf("%d batches reached the broker before their records' intended time, the first at %s with a record due at %s",
					len(early), early[0].at.Format(time.StampMicro), time.UnixMilli(early[0].maxTimestamp).Format(time.StampMicro))
			}
		})
	}
}

// TestBrokerStopsMidRun: the brokers go away; the worker counts the errors and ends
// within the run length plus the flush timeout.
func TestBrokerStopsMidRun(t *testing.T) {
	t.Parallel()
	for name, kill := range map[string]func(*kafkaEnv){
		"cluster closed": func(k *kafkaEnv) { k.cluster.Close() },
		"produce refused": func(k *kafkaEnv) {
			k.cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				k.cluster.KeepControl()
				pr := req.(*kmsg.ProduceRequest)
				resp := pr.ResponseKind().(*kmsg.ProduceResponse)
				for _, topic := range pr.Topics {
					rt := kmsg.NewProduceResponseTopic()
					rt.Topic = topic.Topic
					for _, p := range topic.Partitions {
						rp := kmsg.NewProduceResponseTopicPartition()
						rp.Partition = p.Partition
						rp.ErrorCode = int16(kafka.MessageSizeTooLarge) // not retriable
						rt.Partitions = append(rt.Partitions, rp)
					}
					resp.Topics = append(resp.Topics, rt)
				}
				return resp, nil, true
			})
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			k, topics := newKafka(t, 3, "in")
			k.needFake(t)
			p := testPlan(k, topics[0], writeSamples(t, keyedSamples(50, 10)), plan.Scenario{Type: "Constant", TargetRate: 2000}, 2*time.Second)
			w, err := New(p, Options{Log: testLog(t), FlushTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Prepare(context.Background()); err != nil {
				t.Fatal(err)
			}
			// The brokers go away once the first records were acknowledged: an event, not
			// a time, so that a slow start cannot kill them before the run.
			go func() {
				if waitFor(t, "the first acknowledgements", func() bool { return w.st.completed.Load() > 0 }) {
					kill(k)
				}
			}()
			began := time.Now()
			rep, err := w.Run(context.Background(), began)
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Worker
			if err := checkResult(r); err != nil {
				t.Fatal(err)
			}
			took := time.Since(began)
			t.Logf("took %s: scheduled %d sent %d acked %d failed %d %v", took, r.Scheduled, r.Sent, r.Acked, r.Failed, r.Errors)
			// A hang guard: the run (2 s) plus the flush timeout (2 s), with room for a busy machine.
			if took > 2*time.Second+2*time.Second+10*time.Second {
				t.Errorf("the worker took %s to finish, want at most run + flush timeout + slack", took)
			}
			if r.Acked == 0 || r.Failed == 0 || len(r.Errors) == 0 {
				t.Errorf("acked %d failed %d classes %v: want acks before the failure and counted errors after", r.Acked, r.Failed, r.Errors)
			}
			if name == "produce refused" && r.Errors["MessageSizeTooLarge"] == 0 {
				t.Errorf("error classes %v, want MessageSizeTooLarge", r.Errors)
			}
		})
	}
}

// TestLeaderChangeLosesNothing moves partition leaders between brokers during the run.
func TestLeaderChangeLosesNothing(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	c := k.needFake(t)
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(100, 30)), plan.Scenario{Type: "Constant", TargetRate: 1500}, 2500*time.Millisecond)
	// Two leader changes of every partition, 0.8 s apart: as an election after a broker
	// restart does, not a storm.
	move := func() {
		for part := range int32(3) {
			if err := c.MoveTopicPartition(topics[0], part, (c.LeaderFor(topics[0], part)+1)%3); err != nil {
				t.Errorf("moving partition %d: %v", part, err)
			}
		}
	}
	// The moves follow the run's progress, not the clock, so that a slow start cannot
	// move them before the first record.
	moved := make(chan struct{})
	r, _, acked := runTrackedWith(context.Background(), t, p, Options{FlushTimeout: 5 * time.Second}, func(w *Worker) {
		go func() {
			defer close(moved)
			for _, after := range []int64{500, 1500} {
				if !waitFor(t, fmt.Sprintf("%d records completed", after), func() bool { return w.st.completed.Load() >= after }) {
					return
				}
				move()
			}
		}()
	})
	<-moved
	t.Logf("sent %d acked %d failed %d %v", r.Sent, r.Acked, r.Failed, r.Errors)
	if r.Failed != 0 || r.Acked != r.Scheduled {
		t.Errorf("acked %d of %d scheduled, failed %d (%v): retries should ride out a leader change", r.Acked, r.Scheduled, r.Failed, r.Errors)
	}
	got := consumeAll(t, k, r.Acked, topics[0])
	seen := map[int64]int{}
	for _, rec := range got {
		seen[rec.meta.Sequence]++
	}
	for seq := range acked {
		if seen[seq] != 1 {
			t.Fatalf("acked sequence %d is in the topic %d times", seq, seen[seq])
		}
	}
}

// TestStopGivesPartialResults cancels the run as a stop request or SIGTERM does, once 300
// records were sent. Scheduled is what was due by the stop: between what was due when the
// test cancelled and when Run returned.
func TestStopGivesPartialResults(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(50, 10)), plan.Scenario{Type: "Constant", TargetRate: 1000}, time.Minute)
	w, err := New(p, Options{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan time.Time, 1)
	go func() {
		waitFor(t, "300 records sent", func() bool { return w.st.sent.Load() >= 300 })
		cancelled <- time.Now()
		cancel()
	}()
	start := time.Now()
	rep, err := w.Run(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	returned := time.Now()
	cancelAt := <-cancelled
	r := rep.Worker
	if err := checkResult(r); err != nil {
		t.Fatal(err)
	}
	if took := returned.Sub(cancelAt); took > 10*time.Second { // a hang guard
		t.Errorf("Run took %s after the stop", took)
	}
	// Constant 1000/s: records 0..n are due by n ms.
	lo, hi := int64(cancelAt.Sub(start)/time.Millisecond), int64(returned.Sub(start)/time.Millisecond)+1
	if r.Scheduled < lo || r.Scheduled > hi || r.ScheduledFor < cancelAt.Sub(start) || r.ScheduledFor > returned.Sub(start) {
		t.Errorf("scheduled %d for %v; want what was due between the stop (%d, +%v) and Run's return (%d, +%v)",
			r.Scheduled, r.ScheduledFor, lo, cancelAt.Sub(start), hi, returned.Sub(start))
	}
	if r.Sent < 300 || r.Acked != r.Sent || r.SamplesExhausted {
		t.Errorf("sent %d acked %d exhausted %v: want at least 300 sent, all acknowledged", r.Sent, r.Acked, r.SamplesExhausted)
	}
}

// TestNoLoopStopsAtTheEndOfTheSamples: without loop the run ends with the shard, and the
// report says so; scheduled stays what the schedule asked, 1000/s for 30 s.
func TestNoLoopStopsAtTheEndOfTheSamples(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	const length = 30 * time.Second
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(120, 10)), plan.Scenario{Type: "Constant", TargetRate: 1000}, length)
	p.Samples.Loop = false
	began := time.Now()
	r, _ := run(context.Background(), t, p, Options{})
	if took := time.Since(began); took >= length {
		t.Errorf("Run took %s: it waited for the schedule's end after the samples ran out", took)
	}
	if r.Scheduled != 30_000 || r.ScheduledFor != length || r.Sent != 120 || r.Acked != 120 || r.Samples != 120 || !r.SamplesExhausted {
		t.Errorf("scheduled %d for %s, sent %d, acked %d, samples %d, exhausted %v; want 30000 for 30s, the 120 samples once, exhausted",
			r.Scheduled, r.ScheduledFor, r.Sent, r.Acked, r.Samples, r.SamplesExhausted)
	}
}

// TestNoLoopUnevenShards is the case of a run that read better than it went: 2,000
// samples at 200/s for 10 s with loop false, split 881/1,119 between two workers. Every
// sample is sent once at the worker's rate until its samples or the duration run out:
// worker 0 sends its 881 and stops, worker 1 sends 1,000 of its 1,119. Scheduled stays
// 2,000, what the user asked for, so the achieved-rate ratio is 0.9405 (not 1), and the
// findings say that worker 0 ran out of samples.
func TestNoLoopUnevenShards(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	want := [2]int{881, 1119}
	var lines []sampleLine
	var got [2]int
	for i := 0; got[0] < want[0] || got[1] < want[1]; i++ {
		key := fmt.Sprintf("customer-%d", i)
		w := 1 - len(samples.Shard([]samples.Record{{Key: []byte(key)}}, 2, 0)) // the worker it hashes to
		if got[w] < want[w] {
			got[w]++
			lines = append(lines, sampleLine{Key: ptr(key), Value: fmt.Sprintf(`{"id":%d}`, i)})
		}
	}
	path := writeSamples(t, lines)

	start := time.Now().Add(300 * time.Millisecond)
	reports := make([]results.Report, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		p := testPlan(k, topics[0], path, plan.Scenario{Type: "Constant", TargetRate: plan.Share(200, 2, int32(i))}, 10*time.Second)
		p.Index, p.Workers, p.Samples.Loop = int32(i), 2, false
		w, err := New(p, Options{Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Prepare(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			rep, err := w.Run(context.Background(), start)
			if err != nil {
				t.Error(err)
				return
			}
			rep.Version, rep.Role, rep.Index, rep.RunID = results.FormatVersion, results.RoleWorker, i, p.RunID
			rep.Pod, rep.Start, rep.End = fmt.Sprintf("lt-worker-%d", i), start, time.Now()
			reports[i] = *rep
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, want := range []struct {
		scheduled, sent, samples int64
		exhausted                bool
	}{{1000, 881, 881, true}, {1000, 1000, 1119, false}} {
		r := reports[i].Worker
		if r.Scheduled != want.scheduled || r.Sent != want.sent || r.Acked != want.sent || r.Samples != want.samples || r.SamplesExhausted != want.exhausted {
			t.Errorf("worker %d: scheduled %d sent %d acked %d samples %d exhausted %v; want %+v",
				i, r.Scheduled, r.Sent, r.Acked, r.Samples, r.SamplesExhausted, want)
		}
	}
	doc, err := results.Merge(reports)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summary:\n%s", doc.Summary())
	if doc.Totals.Scheduled != 2000 || doc.AchievedRateRatio != 0.9405 || doc.ScheduledRate != 200 {
		t.Errorf("scheduled %d, ratio %v, asked %v/s; want 2000, 0.9405 and 200/s", doc.Totals.Scheduled, doc.AchievedRateRatio, doc.ScheduledRate)
	}
	findings := strings.Join(doc.Findings(), "\n")
	for _, want := range []string{"of 200/s asked: 1,881 of 2,000 scheduled records acknowledged",
		"119 scheduled records never sent: ran out of samples (loop: false): worker 0 after its 881"} {
		if !strings.Contains(findings, want) {
			t.Errorf("findings %q do not say %q", findings, want)
		}
	}
}

// TestRecordedPartitioning sends each record to its recorded partition.
func TestRecordedPartitioning(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 4, "in")
	lines := keyedSamples(40, 40)
	for i := range lines {
		part := int32(i % 4)
		lines[i].Partition = &part
	}
	p := testPlan(k, topics[0], writeSamples(t, lines), plan.Scenario{Type: "Constant", TargetRate: 1000}, 200*time.Millisecond)
	p.Target.Partitioning = "Recorded"
	p.Samples.Loop = false
	r, _ := run(context.Background(), t, p, Options{})
	for _, c := range consumeAll(t, k, r.Acked, topics[0]) {
		if want := *lines[c.meta.Sequence].Partition; c.partition != want {
			t.Errorf("seq %d on partition %d, recorded on %d", c.meta.Sequence, c.partition, want)
		}
	}

	// A recorded partition the topic does not have is refused before Ready.
	part := int32(9)
	lines[3].Partition = &part
	p.Samples.Path = writeSamples(t, lines)
	w, _ := New(p, Options{Log: testLog(t)})
	if err := w.Prepare(context.Background()); err == nil || !strings.Contains(err.Error(), "partition 9") || !strings.Contains(err.Error(), ":4") {
		t.Errorf("Prepare = %v, want an error naming partition 9 and the sample's line", err)
	}
}

// TestPrepareErrors: what makes a worker fail before Ready, with messages that say why;
// nothing is sent.
func TestPrepareErrors(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	var produced atomic.Int64
	if k.cluster != nil {
		k.cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
			k.cluster.KeepControl()
			produced.Add(1)
			return nil, nil, false
		})
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"key":"a","value":"1"}`+"\n"+`{"key":"a","value":}`+"\n"+`{"key":"b","value":"3"}`+"\n"+`{"key":"a","vale":"4"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sameKey := writeSamples(t, []sampleLine{{Key: ptr("a"), Value: "1"}, {Key: ptr("a"), Value: "2"}})
	empty := filepath.Join(dir, "samples")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := writeSamples(t, keyedSamples(10, 5))
	constant := plan.Scenario{Type: "Constant", TargetRate: 100}

	for name, tc := range map[string]struct {
		mutate func(p *plan.Plan)
		want   []string
	}{
		"bad lines":     {func(p *plan.Plan) { p.Samples.Path = bad }, []string{"line 2", "line 4", "vale"}},
		"missing file":  {func(p *plan.Plan) { p.Samples.Path = filepath.Join(dir, "nope.jsonl") }, []string{"nope.jsonl"}},
		"missing topic": {func(p *plan.Plan) { p.Target.Topic = "no-such-topic" }, []string{`topic "no-such-topic" does not exist`}},
		"unreachable": {func(p *plan.Plan) { p.Kafka.BootstrapServers = []string{"127.0.0.1:1"} },
			[]string{"cannot reach any of the brokers [127.0.0.1:1]"}},
		"empty shard": {func(p *plan.Plan) {
			p.Samples.Path, p.Workers = sameKey, 2
			p.Index = emptyShard(t, sameKey)
		}, []string{"has no samples", "more distinct keys"}},
		"replay without timestamps": {func(p *plan.Plan) { p.Scenario = plan.Scenario{Type: "Replay", Speed: "1"} }, []string{"timestamps", "samples.jsonl:1"}},
		"bad acks":                  {func(p *plan.Plan) { p.Target.Acks = "Some" }, []string{`unknown acks "Some"`}},
		// The API's spelling only: admission refuses any other, so a plan with one is not the operator's.
		"lower-case compression": {func(p *plan.Plan) { p.Target.Compression = "gzip" }, []string{`unknown compression "gzip"`, "Gzip"}},
		// The ConfigMap key as the user knows it, not the file's path in the pod.
		"empty ConfigMap key": {func(p *plan.Plan) {
			p.Samples.Path, p.Samples.Name = empty, `ConfigMap "crm-cdc-samples", key "samples.jsonl"`
		}, []string{`ConfigMap "crm-cdc-samples", key "samples.jsonl": no records`}},
	} {
		t.Run(name, func(t *testing.T) {
			p := testPlan(k, topics[0], good, constant, time.Second)
			tc.mutate(p)
			w, err := New(p, Options{Log: testLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			err = w.Prepare(ctx)
			if err == nil {
				t.Fatal("Prepare succeeded")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Prepare error %q does not contain %q", err, want)
				}
			}
			if p.Samples.Name != "" && strings.Contains(err.Error(), dir) {
				t.Errorf("Prepare error %q shows the path in the pod", err)
			}
		})
	}
	if n := produced.Load(); n != 0 {
		t.Errorf("%d produce requests reached the brokers, want none", n)
	}
}

func ptr[T any](v T) *T { return &v }

// emptyShard returns the index (of 2 workers) that gets none of the samples at path.
func emptyShard(t *testing.T, path string) int32 {
	t.Helper()
	set, err := samples.Load(context.Background(), samples.Source{Path: path, Format: streamreplayv1alpha1.SampleFormatJSONLines})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if len(samples.Shard(set.Records, 2, i)) == 0 {
			return int32(i)
		}
	}
	t.Fatal("no worker has an empty shard")
	return 0
}

// TestMetrics checks the Prometheus names and that they follow the run.
func TestMetrics(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	reg := prometheus.NewRegistry()
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(20, 5)), plan.Scenario{Type: "Constant", TargetRate: 500}, 400*time.Millisecond)
	r, _ := run(context.Background(), t, p, Options{Registry: reg})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[f.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[f.GetName()] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[f.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"streamreplay_worker_records_sent_total":      float64(r.Sent),
		"streamreplay_worker_records_acked_total":     float64(r.Acked),
		"streamreplay_worker_ack_latency_seconds":     float64(r.Acked),
		"streamreplay_worker_bytes_sent_total":        float64(r.Bytes),
		"streamreplay_worker_behind_schedule_seconds": 0,
		"streamreplay_worker_target_rate":             0,
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
}

func TestErrorClass(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{kafka.NotLeaderForPartition, "NotLeaderForPartition"},
		{fmt.Errorf("wrapped: %w", kafka.RequestTimedOut), "RequestTimedOut"},
		{context.DeadlineExceeded, ClassTimeout},
		{&os.PathError{Op: "x", Err: os.ErrDeadlineExceeded}, ClassTimeout},
		{strconv.ErrRange, "errors.errorString"},
	} {
		if got := errorClass(tc.err); got != tc.want {
			t.Errorf("errorClass(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestProducerSettings produces with every compression codec and acks setting.
func TestProducerSettings(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	lines := keyedSamples(50, 50)
	lines[7].Key = nil // keyless: spread by the Key partitioner, not all on one partition
	path := writeSamples(t, lines)
	var total int64
	for _, tc := range []struct {
		compression  streamreplayv1alpha1.Compression
		acks         streamreplayv1alpha1.Acks
		partitioning streamreplayv1alpha1.Partitioning
	}{
		{"None", "All", "Key"}, {"Gzip", "Leader", "RoundRobin"}, {"Snappy", "All", "Key"},
		{"Lz4", "All", "Key"}, {"Zstd", "None", "Key"},
	} {
		p := testPlan(k, topics[0], path, plan.Scenario{Type: "Constant", TargetRate: 500}, 100*time.Millisecond)
		p.Target.Compression, p.Target.Acks, p.Target.Partitioning = tc.compression, tc.acks, tc.partitioning
		p.Samples.Loop = false
		r, _ := run(context.Background(), t, p, Options{})
		if r.Acked != 50 || r.Failed != 0 {
			t.Errorf("%+v: acked %d failed %d %v, want 50 acked", tc, r.Acked, r.Failed, r.Errors)
		}
		total += r.Acked
	}
	got := consumeAll(t, k, total, topics[0])
	if int64(len(got)) != total {
		t.Errorf("read %d records back, want %d", len(got), total)
	}
	for _, c := range got {
		if want := lines[c.meta.Sequence].Value; c.value != want {
			t.Fatalf("seq %d: value %q, want %q", c.meta.Sequence, c.value, want)
		}
	}
}

// TestRecordedTopicIsNeverWritten replays a kcat -J recording of a production topic into
// another target topic. The recorded topic exists on the cluster, and not one produce
// request names it: the target topic is the only place records are written, and the
// recorded partitions count only with partitioning Recorded.
func TestRecordedTopicIsNeverWritten(t *testing.T) {
	t.Parallel()
	const recordedTopic, target = "dbserver1.crm.dbo.customers", "qa.fresh"
	k, _ := newKafka(t, 4, recordedTopic, target)
	c := k.needFake(t)
	var toRecorded, toTarget atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, topic := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range topic.Partitions {
				switch topic.Topic {
				case recordedTopic:
					toRecorded.Add(int64(countRecords(p.Records)))
				case target:
					toTarget.Add(int64(countRecords(p.Records)))
				}
			}
		}
		return nil, nil, false
	})

	var b strings.Builder
	const n = 40
	for i := range n {
		fmt.Fprintf(&b, `{"topic":%q,"partition":%d,"offset":%d,"tstype":"create","ts":%d,"broker":0,"headers":["op","c"],"key":"{\"id\":%d}","payload":"{\"n\":%d}"}`+"\n",
			recordedTopic, i%4, 1000+i, 1772539200000+int64(i), i, i)
	}
	path := filepath.Join(t.TempDir(), "customers.kcat.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, partitioning := range []streamreplayv1alpha1.Partitioning{streamreplayv1alpha1.PartitioningKey, streamreplayv1alpha1.PartitioningRecorded} {
		p := testPlan(k, target, path, plan.Scenario{Type: "Constant", TargetRate: 1000}, time.Second)
		p.Samples.Format, p.Samples.Loop, p.Target.Partitioning = "Kcat", false, partitioning
		p.RunID = "run-" + strings.ToLower(string(partitioning))
		r, _ := run(context.Background(), t, p, Options{})
		if r.Acked != n || r.Failed != 0 {
			t.Fatalf("%s: acked %d failed %d %v, want %d acked", partitioning, r.Acked, r.Failed, r.Errors, n)
		}
	}
	if got := toRecorded.Load(); got != 0 {
		t.Errorf("%d records were produced to the recorded topic %q, want none", got, recordedTopic)
	}
	if got := toTarget.Load(); got != 2*n {
		t.Errorf("%d records reached the target topic, want %d", got, 2*n)
	}
	got := consumeAll(t, k, 2*n, recordedTopic, target)
	byPartitioning := map[string]int{}
	for _, rec := range got {
		if rec.topic != target {
			t.Fatalf("record seq %d is on topic %q, want %q", rec.meta.Sequence, rec.topic, target)
		}
		// Partitioning Recorded keeps each sample's recorded partition, i % 4.
		if rec.meta.RunID == "run-recorded" && int64(rec.partition) != rec.meta.Sequence%4 {
			t.Errorf("Recorded partitioning: seq %d on partition %d, recorded on %d", rec.meta.Sequence, rec.partition, rec.meta.Sequence%4)
		}
		byPartitioning[rec.topic]++
	}
	if byPartitioning[target] != 2*n {
		t.Errorf("read back %v, want %d records on %s only", byPartitioning, 2*n, target)
	}

	// A recorded topic that does not exist on this cluster is no reason to refuse the run;
	// and kcat -J output with the default format JSONLines is recognised as kcat's.
	p := testPlan(k, target, path, plan.Scenario{Type: "Constant", TargetRate: 1000}, time.Second)
	p.Samples.Format = "JSONLines"
	lines := strings.ReplaceAll(b.String(), recordedTopic, "prod.only.topic")
	p.Samples.Path = filepath.Join(t.TempDir(), "other.kcat.json")
	if err := os.WriteFile(p.Samples.Path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := New(p, Options{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Prepare(context.Background()); err != nil {
		t.Errorf("Prepare with a recorded topic missing from the cluster: %v", err)
	}
}

// TestReplayAcrossWorkers replays a recording of two keys, one recorded from 0 to 9.9 s and
// the other from 5.05 s to 9.95 s, with two workers that each get one key. Every record's
// intended send time is start + (ts − ts₀)/speed with ts₀ the whole set's first timestamp,
// whichever worker sends it: the merged timeline is the recording divided by speed.
func TestReplayAcrossWorkers(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	// Two keys that land on different workers.
	var keys []string
	for i := 0; len(keys) < 2; i++ {
		key := fmt.Sprintf("customer-%d", i)
		shard := samples.Shard([]samples.Record{{Key: []byte(key)}}, 2, 1)
		if (len(keys) == 0 && len(shard) == 0) || (len(keys) == 1 && len(shard) == 1) {
			keys = append(keys, key) // keys[0] on worker 0, keys[1] on worker 1
		}
	}
	t0 := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	type rec struct {
		key string
		at  time.Duration
	}
	var recs []rec
	for i := range 100 {
		recs = append(recs, rec{keys[0], time.Duration(i) * 100 * time.Millisecond})
	}
	for i := range 50 {
		recs = append(recs, rec{keys[1], 5050*time.Millisecond + time.Duration(i)*100*time.Millisecond})
	}
	slices.SortStableFunc(recs, func(a, b rec) int { return cmp.Compare(a.at, b.at) })
	lines := make([]sampleLine, len(recs))
	for i, r := range recs {
		lines[i] = sampleLine{Key: ptr(r.key), Value: fmt.Sprint(i), Timestamp: t0.Add(r.at).Format(time.RFC3339Nano),
			Headers: map[string]string{"sample-id": fmt.Sprint(i)}}
	}
	path := writeSamples(t, lines)

	const speed = 10
	start := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	reports := make([]*results.WorkerResult, 2)
	for i := range 2 {
		p := testPlan(k, topics[0], path, plan.Scenario{Type: "Replay", Speed: fmt.Sprint(speed)}, 2*time.Second)
		p.Index, p.Workers, p.Samples.Loop = int32(i), 2, false
		w, err := New(p, Options{Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Prepare(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			rep, err := w.Run(context.Background(), start)
			if err != nil {
				t.Error(err)
				return
			}
			reports[i] = rep.Worker
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if reports[0].Acked != 100 || reports[1].Acked != 50 {
		t.Fatalf("acked %d and %d, want 100 and 50", reports[0].Acked, reports[1].Acked)
	}
	got := consumeAll(t, k, 150, topics[0])
	if len(got) != 150 {
		t.Fatalf("read %d records back, want 150", len(got))
	}
	for _, c := range got {
		i, err := strconv.Atoi(c.headers["sample-id"])
		if err != nil {
			t.Fatalf("record without its sample-id: %v", c.headers)
		}
		want := start.Add(recs[i].at / speed)
		if !c.meta.Intended.Equal(want) {
			t.Errorf("sample %d (key %s, recorded at +%v, worker %d): intended at +%v, want +%v",
				i, recs[i].key, recs[i].at, c.meta.Worker, c.meta.Intended.Sub(start), want.Sub(start))
		}
	}
}

// holdProduce makes the kfake brokers hold every produce request until release is
// called: the worker's in-flight bound then stops its sends, deterministically, and it
// falls behind its schedule for as long as the test wants.
func holdProduce(t *testing.T, k *kafkaEnv) (release func()) {
	t.Helper()
	c := k.needFake(t)
	gate := make(chan struct{})
	var once sync.Once
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case <-gate:
		default:
			c.SleepControl(func() { <-gate })
		}
		return nil, nil, false // the broker then handles the request as usual
	})
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release
}

// waitFor polls cond until it holds; the deadline only guards against a hang. It may be
// called from any goroutine.
func waitFor(t *testing.T, what string, cond func() bool) bool {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Errorf("gave up waiting for %s", what)
		return false
	}
	return true
}

// TestFallingBehindKeepsTheIntendedTimes is the coordinated-omission claim. The brokers
// hold every produce request until the worker, stopped by its in-flight bound, is 300 ms
// behind; then it catches up. Every record still carries start + its schedule offset as
// its intended time, late ones included, and acknowledgement latency counts from that
// time: every record due more than 100 ms before the release was acknowledged after it,
// so at least that many latencies are 100 ms or more, while their send latency is small.
func TestFallingBehindKeepsTheIntendedTimes(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	release := holdProduce(t, k)
	const rate, length = 1000, 2 * time.Second
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(100, 10)), plan.Scenario{Type: "Constant", TargetRate: rate}, length)
	w, err := New(p, Options{Log: testLog(t), MaxInFlight: 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	released := make(chan time.Time, 1)
	go func() {
		waitFor(t, "the worker to fall 300ms behind", func() bool { return w.st.behind.Load() >= int64(300*time.Millisecond) })
		released <- time.Now()
		release()
	}()
	rep, err := w.Run(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	releasedAt := <-released
	r := rep.Worker
	if err := checkResult(r); err != nil {
		t.Fatal(err)
	}
	t.Logf("released %v after the start; scheduled %d sent %d acked %d maxBehind %v; latency p50 %v p90 %v max %v; send latency p50 %v p90 %v",
		releasedAt.Sub(start), r.Scheduled, r.Sent, r.Acked, r.MaxBehind, r.Latency.Quantile(0.5), r.Latency.Quantile(0.9),
		r.Latency.Max(), r.SendLatency.Quantile(0.5), r.SendLatency.Quantile(0.9))
	if r.MaxBehind < 300*time.Millisecond {
		t.Errorf("maxBehind %v, want at least the 300ms the test waited for", r.MaxBehind)
	}

	// Every record's intended time is start + n ms, however late it was sent.
	got := consumeAll(t, k, r.Acked, topics[0])
	if int64(len(got)) != r.Acked {
		t.Fatalf("read %d records back, want the %d acknowledged", len(got), r.Acked)
	}
	for _, c := range got {
		if want := start.Add(time.Duration(c.meta.Sequence) * time.Second / rate); !c.meta.Intended.Equal(want) {
			t.Fatalf("record %d: intended at +%v, want +%v (start + its schedule offset)", c.meta.Sequence, c.meta.Intended.Sub(start), want.Sub(start))
		}
	}

	// The records due more than 100 ms before the release were acknowledged after it.
	late := int64(releasedAt.Sub(start)-100*time.Millisecond) * rate / int64(time.Second)
	n := r.Latency.Count()
	if late < 100 || n < late {
		t.Fatalf("%d records due 100ms before the release of %d acknowledged: the test needs more", late, n)
	}
	// The late-th largest latency is the value at rank n-late+1.
	q := float64(n-late+1) / float64(n)
	if v := r.Latency.Quantile(q); v < 100*time.Millisecond {
		t.Errorf("latency at rank %d of %d is %v: %d records waited at least 100ms from their intended time", n-late+1, n, v, late)
	}
	if v := r.Latency.Max(); v < releasedAt.Sub(start) {
		t.Errorf("max latency %v, less than the %v record 0 waited from its intended time", v, releasedAt.Sub(start))
	}
	if v := r.SendLatency.Quantile(q); v >= r.Latency.Quantile(q) {
		t.Errorf("send latency at rank %d is %v, not below the latency from the intended time %v: latency is not measured from the intended time",
			n-late+1, v, r.Latency.Quantile(q))
	}
}

// TestFallingBehindIsNotHidden: the brokers answer nothing until the run is over, so the
// worker sends only its in-flight bound. Scheduled stays what the schedule asked, larger
// than sent, and the findings say that the worker fell behind.
func TestFallingBehindIsNotHidden(t *testing.T) {
	t.Parallel()
	k, topics := newKafka(t, 3, "in")
	release := holdProduce(t, k)
	const length = time.Second
	p := testPlan(k, topics[0], writeSamples(t, keyedSamples(100, 10)), plan.Scenario{Type: "Constant", TargetRate: 1000}, length)
	w, err := New(p, Options{Log: testLog(t), MaxInFlight: 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() {
		waitFor(t, "the send loop to end", w.st.runEnded.Load)
		release()
	}()
	start := time.Now()
	rep, err := w.Run(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Worker
	if r.Scheduled != 1000 || r.ScheduledFor != length || r.Sent != 20 || r.Acked != 20 || r.MaxBehind < length {
		t.Fatalf("scheduled %d for %v, sent %d, acked %d, maxBehind %v; want 1000 for 1s, 20 sent and acked, at least 1s behind",
			r.Scheduled, r.ScheduledFor, r.Sent, r.Acked, r.MaxBehind)
	}
	rep.Version, rep.Role, rep.Pod, rep.RunID, rep.Start, rep.End = results.FormatVersion, results.RoleWorker, "lt-worker-0", p.RunID, start, time.Now()
	doc, err := results.Merge([]results.Report{*rep})
	if err != nil {
		t.Fatal(err)
	}
	findings := strings.Join(doc.Findings(), "; ")
	if want := "980 scheduled records never sent: fell behind the schedule: worker 0 (20 of 1,000 sent"; !strings.Contains(findings, want) {
		t.Errorf("findings %q do not say %q", findings, want)
	}
	if doc.AchievedRateRatio != 0.02 {
		t.Errorf("achieved-rate ratio %v, want 0.02", doc.AchievedRateRatio)
	}
}
