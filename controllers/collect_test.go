package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// reportPod plays a pod's control port as podrun serves it: /start and /stop, and the
// full report on /report, all behind the run's token.
type reportPod struct {
	ip      string
	reports *control.ReportServer
	srv     *http.Server
}

func (h *harness) serveReportPod(runID string) *reportPod {
	h.t.Helper()
	p := &reportPod{ip: addresses.Next(), reports: control.NewReportServer(runID)}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	mux.HandleFunc("POST "+control.PathStart, ok)
	mux.HandleFunc("POST "+control.PathStop, ok)
	mux.Handle(control.PathReport, p.reports)
	token := h.key.Token(runID)
	p.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !control.Authorized(r, token) {
			h.t.Errorf("a control call to %s without the run's token", r.URL.Path)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", net.JoinHostPort(p.ip, strconv.Itoa(plan.ControlPort)))
	if err != nil {
		h.t.Fatal(err)
	}
	go func() { _ = p.srv.Serve(ln) }()
	h.t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

// markNotReady plays the kubelet when the pod's readiness probe fails: its run is over.
func (h *harness) markNotReady(name string) {
	h.t.Helper()
	var pod corev1.Pod
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: name}, &pod); err != nil {
		h.t.Fatal(err)
	}
	if err := fakepods.UpdateStatus(h.ctx, k8s, &pod, func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
		p.Status.ContainerStatuses[0].Ready = false
	}); err != nil {
		h.t.Fatal(err)
	}
}

// workerSeries is three one-second intervals of 1000 records each, 20 ms each.
func workerSeries(start time.Time) *results.Series {
	s := results.NewSeries(start)
	for i := range 3 {
		h := results.NewHistogram()
		for range 1000 {
			h.Record(20 * time.Millisecond)
		}
		_ = s.Add(start.Add(time.Duration(i)*time.Second), &results.Point{Scheduled: 1000, Sent: 1000, Acked: 1000, Latency: h})
	}
	return s
}

func resultsDocument(t *testing.T, h *harness, name string) (*results.Document, *corev1.ConfigMap) {
	t.Helper()
	var cm corev1.ConfigMap
	if err := k8s.Get(h.ctx, client.ObjectKey{Namespace: h.namespace, Name: name + "-results"}, &cm); err != nil {
		t.Fatal(err)
	}
	var doc results.Document
	if err := json.Unmarshal([]byte(cm.Data[controllers.ResultsKeyJSON]), &doc); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	return &doc, &cm
}

// TestCollectSeriesAcrossRestart: each pod's report is collected once its run is over,
// stored in the results ConfigMap before the pod is told it may end, and a restarted
// operator merges the rest with what it stored: the document's series sums to its totals.
func TestCollectSeriesAcrossRestart(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("series-run", 2)
	h.create(lt)
	h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseStarting)
	pods := h.waitPods(lt.Name, 3)
	runID := string(h.get(lt.Name).UID)
	served := map[string]*reportPod{}
	for i := range pods {
		served[pods[i].Name] = h.serveReportPod(runID)
		h.markReady(&pods[i], served[pods[i].Name].ip)
	}
	var running *streamreplayv1alpha1.LoadTest
	fakepods.Eventually(t, "started", 10*time.Second, func() error {
		running = h.get(lt.Name)
		if !meta.IsStatusConditionTrue(running.Status.Conditions, streamreplayv1alpha1.ConditionStarted) {
			return fmt.Errorf("phase %s: %s", running.Status.Phase, running.Status.Message)
		}
		return nil
	})
	start := running.Status.StartTime.Time

	end := func(name, message string, series *results.Series) {
		t.Helper()
		rep, err := results.Decode([]byte(message))
		if err != nil {
			t.Fatal(err)
		}
		p := served[name]
		if err := p.reports.Set(&results.SeriesReport{Report: rep, Series: series}); err != nil {
			t.Fatal(err)
		}
		h.markNotReady(name)
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		defer cancel()
		if !p.reports.Wait(ctx, 10*time.Second) {
			t.Fatalf("the operator did not collect the report of %s", name)
		}
		_ = p.srv.Close() // the pod ends: nothing can be collected from it any more
		h.markTerminated(name, 0, message)
	}
	worker := fakepods.Worker{Scheduled: 3000, Acked: 3000, Latencies: []time.Duration{20 * time.Millisecond}}
	for i := range 2 {
		worker.Pod, worker.Index = controllers.WorkerPodName(running, int32(i)), i
		end(worker.Pod, h.report(fakepods.WorkerReport(running, worker)), workerSeries(start))
		if i == 0 {
			h.stopManager()
			h.startManager()
		}
	}
	observer := results.NewSeries(start)
	_ = observer.Add(start.Add(time.Second), &results.Point{Lag: 100, LagSamples: 1, PartitionLag: map[int32]int64{0: 10, 3: 90}})
	end(controllers.ObserverPodName(running), h.report(fakepods.ObserverReport(running, controllers.ObserverPodName(running), 0)), observer)

	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhasePassed)
	doc, cm := resultsDocument(t, h, lt.Name)
	if doc.Series == nil {
		t.Fatal("the results document has no series")
	}
	if len(doc.Series.Missing) > 0 || len(doc.Series.Points) != 3 || doc.Series.Step != time.Second {
		t.Errorf("series: missing %v, %d intervals of %s; want none missing, 3 of 1s", doc.Series.Missing, len(doc.Series.Points), doc.Series.Step)
	}
	if err := doc.Reconcile(); err != nil {
		t.Errorf("the series does not reconcile with the totals: %v", err)
	}
	if p, share, ok := doc.Series.HotPartition(); !ok || p != 3 || share != 0.9 {
		t.Errorf("hot partition %d holding %.2f, want 3 holding 0.90", p, share)
	}
	if len(cm.BinaryData[controllers.ResultsKeySeries]) == 0 {
		t.Errorf("the results ConfigMap keeps no collected series")
	}
	h.expectOutcomeInResults(done)
}

// TestSeriesMissingWhenCollectionFails: pods whose report cannot be collected (here they
// do not serve /report) still give the verdict from their termination messages, and the
// results say whose series is missing.
func TestSeriesMissingWhenCollectionFails(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("no-series", 2)
	running, _ := h.startRun(lt)
	for _, pod := range h.pods(lt.Name) {
		h.markNotReady(pod.Name)
	}
	h.settle(lt.Name)
	h.finishRun(running, fakepods.Worker{Scheduled: 3000, Acked: 3000, Latencies: []time.Duration{20 * time.Millisecond}}, 0)
	done := h.waitPhase(lt.Name, streamreplayv1alpha1.PhasePassed)
	if done.Status.Verdict != streamreplayv1alpha1.VerdictPass || done.Status.Results.Acknowledged != 6000 {
		t.Errorf("verdict %s with %d acknowledged, want Pass with 6000", done.Status.Verdict, done.Status.Results.Acknowledged)
	}
	doc, _ := resultsDocument(t, h, lt.Name)
	want := []string{controllers.WorkerPodName(done, 0), controllers.WorkerPodName(done, 1), controllers.ObserverPodName(done)}
	if doc.Series == nil || !sameSet(doc.Series.Missing, want) {
		t.Errorf("series %+v, want the series of %v named missing", doc.Series, want)
	}
	if err := doc.Reconcile(); err == nil {
		t.Error("a series with every pod missing reconciles with the totals")
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
