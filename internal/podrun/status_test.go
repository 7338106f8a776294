package podrun

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/streamreplay/streamreplay/internal/control"
)

// statusRunner is a fakeRunner that reports live counts on /status.
type statusRunner struct {
	fakeRunner
}

func (s *statusRunner) Status() control.Status {
	return control.Status{Worker: &control.WorkerStatus{Scheduled: 100, Acked: 7, Failed: 3}}
}

// TestStatusServesTheRolesCountsToTheOperatorOnly: GET /status gives the role's counts with
// the run id and the pod's phase, through the operator's client; without the run's token
// it is the same bare 401 as every other control call; it is GET only.
func TestStatusServesTheRolesCountsToTheOperatorOnly(t *testing.T) {
	runner := &statusRunner{fakeRunner{release: make(chan struct{}), runFor: time.Minute}}
	h := start(t, runner, nil)
	host, port, err := net.SplitHostPort(strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	c := control.NewClient(time.Second)
	read := func() *control.Status {
		t.Helper()
		st, err := c.Status(context.Background(), host, int32(p), token)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		return st
	}
	if st := read(); st.RunID != runID || st.Phase != "preparing" || st.Worker == nil || st.Worker.Failed != 3 || st.Worker.Scheduled != 100 {
		t.Errorf("status while preparing = %+v (worker %+v), want run %s, preparing, the role's counts", st, st.Worker, runID)
	}
	close(runner.release)
	h.waitReady()
	if code, _ := h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: time.Now()}); code != http.StatusOK {
		t.Fatalf("/start = %d", code)
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return read().Phase == "running", nil
	}); err != nil {
		t.Fatal("/status never said running")
	}
	if _, err := c.Status(context.Background(), host, int32(p), "guess"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Status with a wrong token = %v, want a 401 refusal", err)
	}
	for _, bearer := range []string{"", "guess"} {
		if code, body := h.call(http.MethodGet, h.base+control.PathStatus, bearer, nil); code != http.StatusUnauthorized || body != "unauthorized\n" {
			t.Errorf("GET /status with bearer %q: %d %q, want the bare 401", bearer, code, body)
		}
	}
	if code, _ := h.post(control.PathStatus, control.StopRequest{RunID: runID}); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /status = %d, want 405: it is read-only", code)
	}
	if read().Phase != "running" {
		t.Error("a call to /status changed the pod's phase")
	}
}

// A role without counts still answers with its run and phase.
func TestStatusOfARoleWithoutCounts(t *testing.T) {
	h := start(t, &fakeRunner{runFor: time.Minute}, nil)
	h.waitReady()
	code, body := h.call(http.MethodGet, h.base+control.PathStatus, token, nil)
	if code != http.StatusOK || !strings.Contains(body, `"runID":"run-1"`) || !strings.Contains(body, `"phase":"ready"`) || strings.Contains(body, "worker") {
		t.Errorf("GET /status = %d %s, want the run id and phase ready only", code, body)
	}
}
