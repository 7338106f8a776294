package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/capacity"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

const probeHold = 10 * time.Second

func newCapacityLoadTest(name string, minCapacity int64) *streamreplayv1alpha1.LoadTest {
	lt := newLoadTest(name, 1)
	lt.Spec.TargetRate, lt.Spec.Duration = nil, nil
	lt.Spec.Scenario = streamreplayv1alpha1.Scenario{Type: streamreplayv1alpha1.ScenarioCapacity}
	lt.Spec.Capacity = &streamreplayv1alpha1.CapacitySearch{
		StartRate: 100, MaxRate: 1000, ProbeDuration: &metav1.Duration{Duration: probeHold},
		DrainTimeout: &metav1.Duration{Duration: 10 * time.Second}, Precision: ptr.To("0.05"),
	}
	lt.Spec.Pipeline = &streamreplayv1alpha1.Pipeline{ConsumerGroup: "crm-enricher"}
	lt.Spec.Thresholds = &streamreplayv1alpha1.Thresholds{MinAchievedRateRatio: ptr.To("0.95"), MinCapacity: ptr.To(minCapacity)}
	return lt
}

// pipelineModel answers a probe as a pipeline that processes at most limit records/s:
// above it the lag grows by the excess every second.
func pipelineModel(limit int64) fakepods.ProbeModel {
	return func(_ string, req control.ProbeRequest) control.ProbeResult {
		n := int64(float64(req.Rate) * req.Hold.Seconds())
		res := control.ProbeResult{Done: true,
			Worker:   &control.WorkerProbe{Scheduled: n, Acknowledged: n, ProduceP99: 3 * time.Millisecond, MaxBehind: time.Millisecond},
			Observer: &control.ObserverProbe{LagWatched: true, Drained: true, HasEndToEnd: true, EndToEndP99: 50 * time.Millisecond},
		}
		for at := 2 * time.Second; at <= req.Hold; at += 2 * time.Second {
			res.Observer.Lag = append(res.Observer.Lag, control.LagPoint{At: at, Lag: max(0, req.Rate-limit) * int64(at/time.Second)})
		}
		return res
	}
}

// searchReport is a pod's termination message at the end of a search.
func searchReport(t *testing.T, lt *streamreplayv1alpha1.LoadTest, pod string, role results.Role, acked int64) string {
	t.Helper()
	start := lt.Status.StartTime.Time
	r := &results.Report{Version: results.FormatVersion, Role: role, RunID: string(lt.UID), Pod: pod, Start: start, End: start.Add(time.Minute), Stopped: true}
	if role == results.RoleWorker {
		h := results.NewHistogram()
		h.Record(3 * time.Millisecond)
		r.Worker = &results.WorkerResult{Scheduled: acked, Sent: acked, Acked: acked, Latency: h, SendLatency: h}
		if acked != 1 {
			t.Fatal("searchReport: one record per worker keeps the histogram consistent")
		}
	} else {
		// Each probe numbers its records from 0: the observer reads the later ones as copies.
		r.Observer = &results.ObserverResult{Lag: &results.LagResult{Samples: 3, Drained: true},
			EndToEnd: &results.EndToEndResult{Delivered: 1, Duplicates: 6}}
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A Capacity search against a pipeline that takes 300 records/s converges on it, names
// the pipeline as the limit and passes minCapacity. The manager restarts mid-search: the
// search goes on from probes.json and status.probe, every probe index is asked once with
// one set of values, and the figure is the same as without a restart would give.
func TestCapacitySearchSurvivesARestart(t *testing.T) {
	h := newHarness(t)
	h.control.SetProbeModel(pipelineModel(300))
	lt := newCapacityLoadTest("capacity", 250)
	running, ips := h.startRun(lt)
	workerIP := ips[controllers.WorkerPodName(lt, 0)]

	restartedAfter := -1
	var probes int
	for step := 0; ; step++ {
		if step > 200 {
			t.Fatalf("the search did not end after %d steps", step)
		}
		cur := h.get(lt.Name)
		if cur.Status.Phase.Finished() {
			t.Fatalf("the run ended mid-search: %s %s", cur.Status.Phase, cur.Status.Message)
		}
		if cur.Status.Capacity != nil {
			break
		}
		p := cur.Status.Probe
		if p == nil {
			h.settle(lt.Name)
			continue
		}
		// Wait until the pods accepted the probe before the clock passes its hold.
		fakepods.Eventually(t, fmt.Sprintf("probe %d sent", p.Index), 10*time.Second, func() error {
			if calls := h.control.ProbeCalls(workerIP); len(calls) <= int(p.Index) {
				return fmt.Errorf("the worker has %d probes", len(calls))
			}
			return nil
		})
		probes = int(p.Index) + 1
		if probes == 4 && restartedAfter < 0 {
			h.stopManager()
			h.startManager()
			restartedAfter = probes
		}
		if end := p.StartTime.Add(probeHold + time.Second); end.After(h.clock.FakeClock.Now()) {
			h.setClock(end)
		}
		h.settle(lt.Name)
	}
	if restartedAfter < 0 {
		t.Fatal("the search ended before the manager was restarted")
	}

	searched := h.get(lt.Name)
	if got := *searched.Status.Capacity; got < 285 || got > 315 {
		t.Errorf("capacity = %d, want 285 to 315 (the model's 300)", got)
	}
	if searched.Status.LimitingFactor != streamreplayv1alpha1.LimitingPipeline {
		t.Errorf("limitingFactor = %q, want Pipeline", searched.Status.LimitingFactor)
	}
	fakepods.Eventually(t, "the pods asked to stop", 10*time.Second, func() error {
		if !meta.IsStatusConditionTrue(h.get(lt.Name).Status.Conditions, streamreplayv1alpha1.ConditionStopping) {
			return fmt.Errorf("not Stopping")
		}
		return nil
	})

	// Every probe index was asked once, with one set of values, in order.
	calls := h.control.ProbeCalls(workerIP)
	for i, c := range calls {
		if c.Probe != i {
			t.Errorf("call %d asked probe %d", i, c.Probe)
		}
	}
	var cm corev1.ConfigMap
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: controllers.ResultsConfigMapName(lt)}, &cm); err != nil {
		t.Fatal(err)
	}
	records, err := capacity.DecodeRecords(cm.Data[controllers.ResultsKeyProbes])
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != len(calls) {
		t.Errorf("probes.json has %d probes, the worker was asked %d", len(records), len(calls))
	}
	for i, r := range records {
		if r.SentRate != calls[i].Rate || !r.StartTime.Equal(calls[i].StartTime) {
			t.Errorf("probe %d in probes.json: %d/s from %s; the worker ran %d/s from %s", i, r.SentRate, r.StartTime, calls[i].Rate, calls[i].StartTime)
		}
		if sustained := r.SentRate <= 306; r.Sustained != sustained {
			t.Errorf("probe %d at %d/s: sustained %v, want %v: %v", i, r.SentRate, r.Sustained, sustained, r.Reasons)
		}
	}
	t.Logf("%d probes, restart after probe %d, capacity %d/s", len(records), restartedAfter, *searched.Status.Capacity)

	h.markTerminated(controllers.WorkerPodName(lt, 0), 0, searchReport(t, running, controllers.WorkerPodName(lt, 0), results.RoleWorker, 1))
	h.markTerminated(controllers.ObserverPodName(lt), 0, searchReport(t, running, controllers.ObserverPodName(lt), results.RoleObserver, 0))
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhasePassed)
	if done.Status.Verdict != streamreplayv1alpha1.VerdictPass || !strings.Contains(done.Status.Message, "minCapacity: measured") ||
		!strings.Contains(done.Status.Message, "limited by Pipeline") {
		t.Errorf("verdict %s, message %q; want Pass naming minCapacity and the pipeline", done.Status.Verdict, done.Status.Message)
	}
	if len(done.Status.Thresholds) != 1 || done.Status.Thresholds[0].Name != "minCapacity" || !done.Status.Thresholds[0].Passed {
		t.Errorf("status.thresholds = %+v, want minCapacity passed", done.Status.Thresholds)
	}
	if *done.Status.Capacity != *searched.Status.Capacity || done.Status.Probe != nil {
		t.Errorf("final capacity %d (probe %v), want %d and no probe in progress", *done.Status.Capacity, done.Status.Probe, *searched.Status.Capacity)
	}
	h.expectOutcomeInResults(done)
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: controllers.ResultsConfigMapName(lt)}, &cm); err != nil {
		t.Fatal(err)
	}
	if s := cm.Data[controllers.ResultsKeySummary]; !strings.Contains(s, "capacity search: ") || !strings.Contains(s, "probe  0: 100/s asked") ||
		strings.Contains(s, "end-to-end  delivered") {
		t.Errorf("summary.txt does not list the probes, or counts delivery across probes:\n%s", s)
	}
	// The pods were stopped because the search was over: that is not an early stop.
	if s := cm.Data[controllers.ResultsKeySummary]; strings.Contains(s, "stopped early") {
		t.Errorf("summary.txt of a finished search says it stopped early:\n%s", s)
	}
	if doc := cm.Data[controllers.ResultsKeyJSON]; doc == "" || strings.Contains(doc, `"endToEnd"`) || strings.Contains(doc, `"stopped"`) {
		t.Errorf("results.json of a Capacity run is empty or has an end-to-end section:\n%s", doc)
	}
}

// A search whose minCapacity is above what the pipeline takes fails, naming the check.
func TestCapacityBelowMinCapacityFails(t *testing.T) {
	h := newHarness(t)
	h.control.SetProbeModel(pipelineModel(150))
	lt := newCapacityLoadTest("capacity-low", 400)
	lt.Spec.Capacity.Precision = ptr.To("0.2")
	running, ips := h.startRun(lt)
	workerIP := ips[controllers.WorkerPodName(lt, 0)]
	for step := 0; h.get(lt.Name).Status.Capacity == nil; step++ {
		if step > 100 {
			t.Fatal("the search did not end")
		}
		p := h.get(lt.Name).Status.Probe
		if p == nil {
			h.settle(lt.Name)
			continue
		}
		fakepods.Eventually(t, "probe sent", 10*time.Second, func() error {
			if len(h.control.ProbeCalls(workerIP)) <= int(p.Index) {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		if end := p.StartTime.Add(probeHold + time.Second); end.After(h.clock.FakeClock.Now()) {
			h.setClock(end)
		}
		h.settle(lt.Name)
	}
	h.markTerminated(controllers.WorkerPodName(lt, 0), 0, searchReport(t, running, controllers.WorkerPodName(lt, 0), results.RoleWorker, 1))
	h.markTerminated(controllers.ObserverPodName(lt), 0, searchReport(t, running, controllers.ObserverPodName(lt), results.RoleObserver, 0))
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseFailed)
	if !strings.Contains(done.Status.Message, "thresholds not met: minCapacity: measured ") || !strings.Contains(done.Status.Message, "limit 400/s") {
		t.Errorf("message %q, want the failed minCapacity check", done.Status.Message)
	}
	if c := *done.Status.Capacity; c > 150 || c < 120 {
		t.Errorf("capacity %d, want about 150 (precision 0.2), never above", c)
	}
}
