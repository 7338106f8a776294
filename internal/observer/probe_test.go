package observer

import (
	"errors"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/podrun"
)

// A probe window keeps the lag samples from its start, says drained only once a sample
// after the hold read 0 (and the latest attempt succeeded), and takes end-to-end latency
// from the records intended during its hold only.
func TestProbeWindows(t *testing.T) {
	o := &Observer{probes: &probeWindows{}, lag: &lagTally{}, log: logr.Discard()}
	o.e2e = &e2eTally{probes: o.probes}
	t0 := time.Now().Add(-time.Minute)
	req := control.ProbeRequest{RunID: "r", Probe: 0, Rate: 100, StartTime: t0, Hold: 10 * time.Second}
	if err := o.StartProbe(req); err != nil {
		t.Fatal(err)
	}
	if err := o.StartProbe(req); err != nil {
		t.Errorf("the same probe again: %v, want accepted", err)
	}
	other := req
	other.Rate = 200
	if err := o.StartProbe(other); !errors.Is(err, podrun.ErrProbeConflict) {
		t.Errorf("probe 0 with another rate: %v, want a conflict", err)
	}

	ps := o.probes
	ps.lagSampled(t0.Add(-time.Second), 999, true) // before the probe: not its own
	for i, lag := range []int64{10, 30, 50, 70, 90} {
		ps.lagSampled(t0.Add(time.Duration(2*i+2)*time.Second), lag, true)
	}
	ps.delivered(t0.Add(-time.Millisecond), t0.Add(time.Hour)) // intended before the hold
	ps.delivered(t0.Add(time.Second), t0.Add(time.Second+40*time.Millisecond))
	ps.delivered(t0.Add(10*time.Second), t0.Add(time.Hour)) // intended after the hold
	res, ok := o.ProbeResult(0)
	if !ok {
		t.Fatal("probe 0 unknown")
	}
	want := []control.LagPoint{{At: 2 * time.Second, Lag: 10}, {At: 4 * time.Second, Lag: 30}, {At: 6 * time.Second, Lag: 50},
		{At: 8 * time.Second, Lag: 70}, {At: 10 * time.Second, Lag: 90}}
	if diff := cmp.Diff(want, res.Observer.Lag); diff != "" {
		t.Errorf("lag samples (-want +got):\n%s", diff)
	}
	if !res.Done || res.Observer.Drained {
		t.Errorf("done %v drained %v, want done and not drained (the lag after the hold is 90)", res.Done, res.Observer.Drained)
	}
	if p99 := res.Observer.EndToEndP99; !res.Observer.HasEndToEnd || p99 < 40*time.Millisecond || p99 > 41*time.Millisecond {
		t.Errorf("end-to-end p99 %s (has %v), want 40ms from the one record intended during the hold", p99, res.Observer.HasEndToEnd)
	}

	ps.lagSampled(t0.Add(12*time.Second), 0, true)
	if res, _ := o.ProbeResult(0); !res.Observer.Drained {
		t.Error("not drained after a sample of 0 past the hold")
	}
	ps.lagSampled(t0.Add(14*time.Second), 0, false)
	if res, _ := o.ProbeResult(0); res.Observer.Drained {
		t.Error("drained although the latest attempt failed")
	}
	if _, ok := o.ProbeResult(1); ok {
		t.Error("probe 1 was never asked, yet the observer answers it")
	}
}
