package podrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/results"
)

const (
	runID = "run-1"
	// token is the run's control token; a real one is control.Key.Token(runID).
	token = "a-token-of-43-characters-like-a-real-one-xy"
)

// fakeRunner is a Runner whose Prepare waits for release (when set) and whose Run works
// until runFor has passed or ctx is cancelled.
type fakeRunner struct {
	release    chan struct{}
	prepareErr error
	runFor     time.Duration
	runErr     error
	started    chan time.Time // receives Run's start argument
	// windDown is how long Run takes to finish once stopped, as a worker flushing its writer.
	windDown time.Duration
}

func (f *fakeRunner) Prepare(ctx context.Context) error {
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.prepareErr
}

func (f *fakeRunner) Run(ctx context.Context, start time.Time) (*results.Report, error) {
	if f.started != nil {
		f.started <- start
	}
	t := time.NewTimer(f.runFor)
	defer t.Stop()
	sent := int64(1000)
	select {
	case <-t.C:
	case <-ctx.Done():
		sent = 10 // partial
		time.Sleep(f.windDown)
	}
	if f.runErr != nil {
		return nil, f.runErr
	}
	h := results.NewHistogram()
	for i := range sent {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	return &results.Report{Worker: &results.WorkerResult{Scheduled: sent, Sent: sent, Acked: sent, Latency: h}}, nil
}

func (f *fakeRunner) Progress() []any { return []any{"sent", 1} }

type harness struct {
	t       *testing.T
	base    string // the control port
	metrics string // the metrics port
	termLog string
	done    chan error
	cancel  context.CancelFunc
}

func start(t *testing.T, runner Runner, mutate func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, termLog: filepath.Join(t.TempDir(), "termination-log"), done: make(chan error, 1)}
	addr, metricsAddr := make(chan net.Addr, 1), make(chan net.Addr, 1)
	opts := Options{
		RunID: runID, Token: token, Role: results.RoleWorker, Pod: "lt-worker-0", Index: 0,
		ControlAddr: "127.0.0.1:0", OnListen: func(a net.Addr) { addr <- a },
		MetricsAddr: "127.0.0.1:0", OnMetricsListen: func(a net.Addr) { metricsAddr <- a },
		TerminationLog: h.termLog, Log: testr.New(t), ProgressEvery: 20 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	t.Cleanup(cancel)
	go func() { h.done <- Main(ctx, runner, opts) }()
	for _, into := range []*string{&h.base, &h.metrics} {
		ch := addr
		if into == &h.metrics {
			ch = metricsAddr
		}
		select {
		case a := <-ch:
			*into = "http://" + a.String()
		case err := <-h.done:
			t.Fatalf("Main returned before listening: %v", err)
		}
	}
	return h
}

// get sends GET to the metrics port.
func (h *harness) get(path string) int {
	h.t.Helper()
	code, _ := h.call(http.MethodGet, h.metrics+path, token, nil)
	return code
}

// post sends POST to the control port with the run's token.
func (h *harness) post(path string, body any) (int, string) {
	h.t.Helper()
	return h.call(http.MethodPost, h.base+path, token, body)
}

// call sends a request with bearer (none when empty) and returns the status and the body.
func (h *harness) call(method, url, bearer string, body any) (int, string) {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func (h *harness) waitReady() {
	h.t.Helper()
	if wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return h.get(control.PathReady) == http.StatusOK, nil
	}) != nil {
		h.t.Fatal("the pod never became Ready")
	}
}

func (h *harness) wait() error {
	h.t.Helper()
	select {
	case err := <-h.done:
		return err
	case <-time.After(10 * time.Second):
		h.t.Fatal("Main did not return")
		return nil
	}
}

// report reads and decodes the termination message.
func (h *harness) report() *results.Report {
	h.t.Helper()
	msg := h.message()
	r, err := results.Decode(msg)
	if err != nil {
		h.t.Fatalf("termination message %q does not decode: %v", msg, err)
	}
	return r
}

func (h *harness) message() []byte {
	h.t.Helper()
	msg, err := os.ReadFile(h.termLog)
	if err != nil {
		h.t.Fatalf("no termination message: %v", err)
	}
	if len(msg) > results.MaxMessageBytes {
		h.t.Fatalf("termination message is %d bytes, more than %d", len(msg), results.MaxMessageBytes)
	}
	return msg
}

func TestReadinessFollowsPrepare(t *testing.T) {
	runner := &fakeRunner{release: make(chan struct{}), runFor: 50 * time.Millisecond}
	h := start(t, runner, nil)
	if got := h.get(control.PathHealth); got != http.StatusOK {
		t.Errorf("/healthz while preparing = %d, want 200", got)
	}
	if got := h.get(control.PathReady); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while preparing = %d, want 503", got)
	}
	close(runner.release)
	h.waitReady()
	if got := h.get(control.PathMetrics); got != http.StatusOK {
		t.Errorf("/metrics = %d, want 200", got)
	}
	if code, msg := h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: time.Now()}); code != http.StatusOK {
		t.Fatalf("/start = %d %s", code, msg)
	}
	if err := h.wait(); err != nil {
		t.Fatalf("Main: %v", err)
	}
	r := h.report()
	if r.Stopped || r.Worker.Acked != 1000 || r.RunID != runID || r.Pod != "lt-worker-0" || r.Role != results.RoleWorker {
		t.Errorf("report = %+v, want a complete worker report of run %s", r, runID)
	}
}

func TestStartChecksRunIDAndIsIdempotent(t *testing.T) {
	runner := &fakeRunner{runFor: 200 * time.Millisecond, started: make(chan time.Time, 1)}
	h := start(t, runner, nil)
	h.waitReady()
	at := time.Now().Add(100 * time.Millisecond).Round(time.Millisecond)

	code, msg := h.post(control.PathStart, control.StartRequest{RunID: "other-run", StartTime: at})
	if code != http.StatusConflict || !strings.Contains(msg, "does not match this pod's run") || strings.Contains(msg, "other-run") || strings.Contains(msg, runID) {
		t.Errorf("/start with another run id = %d %q, want 409 naming neither run id", code, msg)
	}
	if code, msg := h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: at}); code != http.StatusOK {
		t.Fatalf("/start = %d %s", code, msg)
	}
	if code, msg := h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: at}); code != http.StatusOK {
		t.Errorf("repeated /start with the same time = %d %s, want 200", code, msg)
	}
	code, msg = h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: at.Add(time.Second)})
	if code != http.StatusConflict || !strings.Contains(msg, "first start time wins") {
		t.Errorf("/start with another time = %d %q, want 409", code, msg)
	}
	if code, _ := h.post(control.PathStop, control.StopRequest{RunID: "other-run"}); code != http.StatusConflict {
		t.Errorf("/stop with another run id = %d, want 409", code)
	}
	if got := <-runner.started; !got.Equal(at) {
		t.Errorf("Run started with %s, want the agreed %s", got, at)
	}
	if time.Now().Before(at) {
		t.Errorf("Run started before the agreed start time")
	}
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if r := h.report(); r.Stopped || r.LateStart > 100*time.Millisecond {
		t.Errorf("report stopped=%v lateStart=%s, want a complete run started on time", r.Stopped, r.LateStart)
	}
}

func TestStartInThePastRecordsLateStart(t *testing.T) {
	h := start(t, &fakeRunner{runFor: 10 * time.Millisecond}, nil)
	h.waitReady()
	if code, msg := h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: time.Now().Add(-3 * time.Second)}); code != http.StatusOK {
		t.Fatalf("/start = %d %s", code, msg)
	}
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if r := h.report(); r.LateStart < 3*time.Second || r.LateStart > 5*time.Second {
		t.Errorf("LateStart = %s, want about 3s", r.LateStart)
	}
}

func TestStopGivesPartialResults(t *testing.T) {
	// The repeated /stop must reach the pod while it still winds down: once Main returns,
	// the pod's process ends and nothing answers.
	h := start(t, &fakeRunner{runFor: time.Minute, windDown: 500 * time.Millisecond}, nil)
	h.waitReady()
	h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: time.Now()})
	time.Sleep(50 * time.Millisecond) // progress lines meanwhile
	for range 2 {                     // idempotent
		if code, msg := h.post(control.PathStop, control.StopRequest{RunID: runID}); code != http.StatusOK {
			t.Fatalf("/stop = %d %s", code, msg)
		}
	}
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if r := h.report(); !r.Stopped || r.Worker.Sent != 10 {
		t.Errorf("report stopped=%v sent=%d, want the partial results, stopped", r.Stopped, r.Worker.Sent)
	}
}

func TestTerminationSignalGivesPartialResults(t *testing.T) {
	h := start(t, &fakeRunner{runFor: time.Minute}, nil)
	h.waitReady()
	h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: time.Now()})
	time.Sleep(20 * time.Millisecond)
	h.cancel() // what SIGTERM does through signal.NotifyContext
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if r := h.report(); !r.Stopped || r.Worker.Sent != 10 {
		t.Errorf("report stopped=%v sent=%d, want the partial results, stopped", r.Stopped, r.Worker.Sent)
	}
}

func TestStopBeforeStartGivesEmptyStoppedReport(t *testing.T) {
	for name, stop := range map[string]func(*harness){
		"stop request": func(h *harness) { h.post(control.PathStop, control.StopRequest{RunID: runID}) },
		"signal":       func(h *harness) { h.cancel() },
	} {
		t.Run(name, func(t *testing.T) {
			h := start(t, &fakeRunner{runFor: time.Minute}, func(o *Options) { o.Role = results.RoleObserver })
			h.waitReady()
			stop(h)
			if err := h.wait(); err != nil {
				t.Fatal(err)
			}
			if r := h.report(); !r.Stopped || r.Observer == nil || r.Role != results.RoleObserver {
				t.Errorf("report = %+v, want an empty stopped observer report", r)
			}
		})
	}
}

func TestStopWhilePreparing(t *testing.T) {
	h := start(t, &fakeRunner{release: make(chan struct{})}, nil)
	h.post(control.PathStop, control.StopRequest{RunID: runID})
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if r := h.report(); !r.Stopped || r.Worker == nil {
		t.Errorf("report = %+v, want an empty stopped worker report", r)
	}
}

func TestPrepareErrorIsTheTerminationMessage(t *testing.T) {
	h := start(t, &fakeRunner{prepareErr: errors.New(`samples: line 3: "value" is not valid JSON`)}, nil)
	err := h.wait()
	if err == nil {
		t.Fatal("Main returned nil, want the Prepare error")
	}
	if got := string(h.message()); got != err.Error() || !strings.Contains(got, "line 3") {
		t.Errorf("termination message = %q, want the error %q", got, err)
	}
}

func TestRunErrorIsTheTerminationMessage(t *testing.T) {
	h := start(t, &fakeRunner{runErr: errors.New("the writer broke")}, nil)
	h.waitReady()
	h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: time.Now()})
	if err := h.wait(); err == nil || string(h.message()) != "the writer broke" {
		t.Errorf("Main = %v, message %q; want the Run error in both", err, h.message())
	}
}

func TestLongErrorIsCutOnARuneBoundary(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes
	h := start(t, &fakeRunner{prepareErr: errors.New(long)}, nil)
	if err := h.wait(); err == nil {
		t.Fatal("Main returned nil")
	}
	msg := h.message()
	if !utf8.Valid(msg) || len(msg) < results.MaxMessageBytes-1 || len(msg) > results.MaxMessageBytes || !strings.HasSuffix(string(msg), "…") {
		t.Errorf("message of %d bytes, valid UTF-8 %v; want about %d valid bytes ending in …", len(msg), utf8.Valid(msg), results.MaxMessageBytes)
	}
}

func TestStartTimeout(t *testing.T) {
	h := start(t, &fakeRunner{}, func(o *Options) { o.StartTimeout = 50 * time.Millisecond })
	err := h.wait()
	if !errors.Is(err, ErrStartTimeout) || !strings.Contains(string(h.message()), "NetworkPolicy") {
		t.Errorf("Main = %v, message %q; want a start timeout that names the likely cause", err, h.message())
	}
}

func TestStartTimeoutCountsRefusedCalls(t *testing.T) {
	h := start(t, &fakeRunner{}, func(o *Options) { o.StartTimeout = 300 * time.Millisecond })
	h.waitReady()
	for range 2 {
		h.call(http.MethodPost, h.base+control.PathStart, "stale", control.StartRequest{RunID: runID, StartTime: time.Now()})
	}
	err := h.wait()
	if !errors.Is(err, ErrStartTimeout) || !strings.Contains(string(h.message()), "2 calls without this run's token were refused") {
		t.Errorf("Main = %v, message %q; want a start timeout that counts the refused calls", err, h.message())
	}
}

func TestIsPowerOfTen(t *testing.T) {
	for n, want := range map[int64]bool{1: true, 2: false, 10: true, 11: false, 100: true, 1000: true, 1010: false, 20: false} {
		if got := isPowerOfTen(n); got != want {
			t.Errorf("isPowerOfTen(%d) = %v", n, got)
		}
	}
}

func TestBadOptionsStillWriteTheMessage(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Role: results.RoleWorker, Token: token}, "RunID is empty"},
		{Options{Role: results.RoleWorker, RunID: runID}, "Token is empty"},
	} {
		termLog := filepath.Join(t.TempDir(), "termination-log")
		tc.opts.TerminationLog, tc.opts.Log = termLog, testr.New(t)
		err := Main(context.Background(), &fakeRunner{}, tc.opts)
		msg, _ := os.ReadFile(termLog)
		if err == nil || string(msg) != err.Error() || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Main = %v, message %q; want an error saying %q in both", err, msg, tc.want)
		}
	}
}

// Without the run's token, nothing on the control port answers anything but one bare
// 401, whatever the path, the method, the body or the token presented; and such calls
// change nothing: a forged /start does not fix the start time, a forged /stop does not
// stop the pod, before or after the start.
func TestControlPortRefusesCallsWithoutTheToken(t *testing.T) {
	runner := &fakeRunner{release: make(chan struct{}), runFor: 300 * time.Millisecond, started: make(chan time.Time, 1)}
	h := start(t, runner, nil)
	forged := time.Now().Add(-time.Hour)
	type attempt struct {
		name, method, path, bearer string
		body                       any
	}
	attempts := []attempt{
		{"start without a token", http.MethodPost, control.PathStart, "", control.StartRequest{RunID: runID, StartTime: forged}},
		{"start with a wrong token", http.MethodPost, control.PathStart, "guess", control.StartRequest{RunID: runID, StartTime: forged}},
		{"start with the token's prefix", http.MethodPost, control.PathStart, token[:len(token)-1], control.StartRequest{RunID: runID, StartTime: forged}},
		{"start with the run id as token", http.MethodPost, control.PathStart, runID, control.StartRequest{RunID: runID, StartTime: forged}},
		{"stop without a token", http.MethodPost, control.PathStop, "", control.StopRequest{RunID: runID}},
		{"stop with a wrong token", http.MethodPost, control.PathStop, "guess", control.StopRequest{RunID: "guess"}},
		{"metrics on the control port", http.MethodGet, control.PathMetrics, "", nil},
		{"an unknown path", http.MethodGet, "/debug/pprof/", "", nil},
		{"GET start", http.MethodGet, control.PathStart, "", nil},
	}
	try := func(when string) {
		t.Helper()
		for _, a := range attempts {
			code, body := h.call(a.method, h.base+a.path, a.bearer, a.body)
			if code != http.StatusUnauthorized || body != "unauthorized\n" {
				t.Errorf("%s, %s: %d %q, want 401 \"unauthorized\" and nothing else", when, a.name, code, body)
			}
		}
	}
	try("while preparing")
	close(runner.release)
	h.waitReady()
	try("once Ready")
	if got := h.get(control.PathReady); got != http.StatusOK {
		t.Fatalf("/readyz after forged calls = %d: a forged /stop stopped the pod", got)
	}
	// The operator's start is the one that counts: the forged time did not stick.
	at := time.Now().Add(50 * time.Millisecond)
	if code, msg := h.post(control.PathStart, control.StartRequest{RunID: runID, StartTime: at}); code != http.StatusOK {
		t.Fatalf("the operator's /start after forged ones = %d %s", code, msg)
	}
	if got := <-runner.started; !got.Equal(at) {
		t.Errorf("Run started with %s, want the operator's %s", got, at)
	}
	try("while running")
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	r := h.report()
	if r.Stopped || r.LateStart > time.Second || r.Worker.Acked != 1000 {
		t.Errorf("report stopped=%v lateStart=%s acked=%d, want a complete run on the operator's time", r.Stopped, r.LateStart, r.Worker.Acked)
	}
}

// The metrics port serves metrics and probes to GET, refuses every other method, and
// has no /start or /stop, even for the bearer of the token.
func TestMetricsPortIsReadOnly(t *testing.T) {
	h := start(t, &fakeRunner{runFor: time.Minute}, nil)
	h.waitReady()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, control.PathStop, http.StatusMethodNotAllowed},
		{http.MethodPost, control.PathStart, http.StatusMethodNotAllowed},
		{http.MethodPost, control.PathMetrics, http.StatusMethodNotAllowed},
		{http.MethodPut, control.PathReady, http.StatusMethodNotAllowed},
		{http.MethodGet, control.PathStop, http.StatusNotFound},
		{http.MethodGet, control.PathStart, http.StatusNotFound},
	} {
		var body any
		if tc.method == http.MethodPost {
			body = control.StopRequest{RunID: runID}
		}
		if code, msg := h.call(tc.method, h.metrics+tc.path, token, body); code != tc.want {
			t.Errorf("%s %s on the metrics port = %d %q, want %d", tc.method, tc.path, code, msg, tc.want)
		}
	}
	// A refused call on the control port shows in the metrics.
	h.call(http.MethodPost, h.base+control.PathStop, "guess", control.StopRequest{RunID: runID})
	code, metrics := h.call(http.MethodGet, h.metrics+control.PathMetrics, "", nil)
	if code != http.StatusOK || !strings.Contains(metrics, "streamreplay_control_refused_total 1") || !strings.Contains(metrics, "go_goroutines") {
		t.Errorf("GET /metrics = %d, want the refused call counted next to the Go metrics:\n%s", code, metrics)
	}
	if got := h.get(control.PathReady); got != http.StatusOK {
		t.Errorf("/readyz = %d after POSTs to the metrics port: the pod stopped", got)
	}
	h.cancel()
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
}

func TestBadRequests(t *testing.T) {
	h := start(t, &fakeRunner{runFor: time.Millisecond}, nil)
	h.waitReady()
	if code, _ := h.call(http.MethodGet, h.base+control.PathStart, token, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /start = %d, want 405", code)
	}
	req, err := http.NewRequest(http.MethodPost, h.base+control.PathStart, strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /start with bad JSON = %d, want 400", resp.StatusCode)
	}
	if code, _ := h.post(control.PathStart, map[string]string{"runID": runID}); code != http.StatusBadRequest {
		t.Errorf("POST /start without a time = %d, want 400", code)
	}
	h.cancel()
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
}

func TestPodNameFromHost(t *testing.T) {
	if got := podName("My_Laptop.local"); got != "my-laptop.local" {
		t.Errorf("podName = %q", got)
	}
}
