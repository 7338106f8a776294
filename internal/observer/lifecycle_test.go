package observer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
)

// TestPodLifecycle runs the observer as its pod does, through podrun: Ready
// once the topics are checked, started and stopped over the control port,
// metrics served, and the report in the termination message.
func TestPodLifecycle(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t, 1, map[string]int32{"in": 1, "out": 1, "dlq": 1})
	p := testPlan(brokers, time.Minute, time.Minute)
	p.DLQ = &plan.DLQ{Topic: "dlq"}
	p.Pipeline = &plan.Pipeline{InputTopic: "in", OutputTopic: "out", ConsumerGroup: testGroup}
	reg := prometheus.NewRegistry()
	o, err := New(Options{Plan: p, Log: testr.New(t), Registry: reg, LagInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	termLog := filepath.Join(t.TempDir(), "termination-log")
	addrCh, metricsCh := make(chan net.Addr, 1), make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- podrun.Main(context.Background(), o, podrun.Options{
			RunID: runID, Token: controlToken, Role: results.RoleObserver, Pod: "crm-cdc-peak-observer",
			ControlAddr: "127.0.0.1:0", OnListen: func(a net.Addr) { addrCh <- a },
			MetricsAddr: "127.0.0.1:0", OnMetricsListen: func(a net.Addr) { metricsCh <- a },
			TerminationLog: termLog, Registry: reg, Log: testr.New(t), ProgressEvery: 200 * time.Millisecond,
		})
	}()
	base, metricsBase := "http://"+(<-addrCh).String(), "http://"+(<-metricsCh).String()
	if err := eventually(10*time.Second, func() bool { return get(metricsBase+control.PathReady) == http.StatusOK }); err != nil {
		t.Fatal("the observer did not become Ready within 10s")
	}
	post(t, base+control.PathStart, control.StartRequest{RunID: runID, StartTime: time.Now()})
	produce(t, brokers, "dlq", producerConfig{runID: runID, n: 2})
	if err := eventually(5*time.Second, func() bool { r, _ := o.dlq.counts(); return r == 2 }); err != nil {
		t.Fatal("the observer did not count 2 dead letters within 5s")
	}
	resp, err := http.Get(metricsBase + control.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`streamreplay_observer_dlq_records_total{class="unclassified"} 2`)) {
		t.Errorf("/metrics lacks the DLQ count:\n%s", grepLines(string(metrics), "streamreplay_observer_"))
	}
	post(t, base+control.PathStop, control.StopRequest{RunID: runID})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("podrun.Main did not end within 10s of the stop")
	}
	msg, err := os.ReadFile(termLog)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := results.Decode(msg)
	if err != nil {
		t.Fatalf("termination message %q: %v", msg, err)
	}
	if !rep.Stopped || rep.Pod != "crm-cdc-peak-observer" || rep.Observer.DLQ.Records != 2 || rep.Observer.Lag == nil || rep.Observer.EndToEnd == nil {
		t.Errorf("report = %s", msg)
	}
}

func get(url string) int {
	resp, err := http.Get(url) //nolint:gosec // a test against its own local server
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// controlToken stands for the run's control token, which podrun requires on /start and /stop.
const controlToken = "observer-lifecycle-test-token"

func post(t *testing.T, url string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+controlToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s: %s", url, resp.Status, msg)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
