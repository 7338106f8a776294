package podrun

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/results"
)

// seriesRunner is a fakeRunner that also measured per interval.
type seriesRunner struct {
	fakeRunner
	series *results.Series
}

func (s *seriesRunner) Series() *results.Series { return s.series }

// TestReportCollection: the full report is served on GET /report only to the run's token
// and only once the run is over; the termination message is written before the pod
// waits, and the operator's acknowledgement ends the wait long before the grace period.
func TestReportCollection(t *testing.T) {
	series := results.NewSeries(time.Now())
	if err := series.Add(time.Now(), &results.Point{Sent: 1000, Acked: 1000}); err != nil {
		t.Fatal(err)
	}
	runner := &seriesRunner{fakeRunner: fakeRunner{runFor: 200 * time.Millisecond}, series: series}
	h := start(t, runner, func(o *Options) { o.ReportGrace = time.Minute })
	h.waitReady()
	u, err := url.Parse(h.base)
	if err != nil {
		t.Fatal(err)
	}
	host, portText, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portText)
	c := control.NewClient(5 * time.Second)
	ctx := context.Background()

	if _, err := c.Report(ctx, host, int32(port), "not-the-token", runID); err == nil || !errors.Is(err, control.ErrRefused) {
		t.Fatalf("GET /report without the token: %v, want refused", err)
	}
	if _, err := c.Report(ctx, host, int32(port), token, runID); !errors.Is(err, control.ErrNotFinished) {
		t.Fatalf("GET /report before the run: %v, want not finished", err)
	}
	if code, msg := h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: time.Now()}); code != http.StatusOK {
		t.Fatalf("start: %d %s", code, msg)
	}
	var full *results.SeriesReport
	_ = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		full, err = c.Report(ctx, host, int32(port), token, runID)
		return !errors.Is(err, control.ErrNotFinished), nil
	})
	if err != nil {
		t.Fatalf("GET /report after the run: %v", err)
	}
	if err := full.Check(runID, "lt-worker-0"); err != nil {
		t.Fatalf("collected report: %v", err)
	}
	if full.Report.Worker.Sent != 1000 || full.Series == nil || full.Series.Points[0].Sent != 1000 {
		t.Fatalf("collected %+v with series %+v, want the run's 1000 records in both", full.Report.Worker, full.Series)
	}
	if _, err := c.Report(ctx, host, int32(port), token, "another-run"); err == nil {
		t.Error("GET /report of another run id answered")
	}
	// Waiting: the termination message is there already.
	if r := h.report(); r.Worker.Sent != 1000 {
		t.Errorf("termination message while waiting: sent %d, want 1000", r.Worker.Sent)
	}
	select {
	case err := <-h.done:
		t.Fatalf("Main returned before the report was collected: %v", err)
	default:
	}
	acked := time.Now()
	if err := c.Collected(ctx, host, int32(port), token, control.CollectedRequest{RunID: runID}); err != nil {
		t.Fatal(err)
	}
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(acked); took > 10*time.Second {
		t.Errorf("Main took %s to end after the acknowledgement", took)
	}
}

// TestReportNeverCollected: without the operator, the pod ends after the grace period
// with its termination message, as before.
func TestReportNeverCollected(t *testing.T) {
	h := start(t, &fakeRunner{runFor: 10 * time.Millisecond}, func(o *Options) { o.ReportGrace = 300 * time.Millisecond })
	h.waitReady()
	if code, msg := h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: time.Now()}); code != http.StatusOK {
		t.Fatalf("start: %d %s", code, msg)
	}
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if r := h.report(); r.Worker.Sent != 1000 {
		t.Errorf("termination message: sent %d, want 1000", r.Worker.Sent)
	}
}
