// Package podrun is the life of a worker or observer pod, shared by both: it serves the
// control and metrics ports from the first moment, prepares the pod's Runner, reports Ready,
// waits for the operator's start signal, runs it until it is done or stopped, and
// always ends by writing the termination message that the operator reads
// (docs/design.md, "The control protocol").
package podrun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// Runner is the work of a pod, the worker's or the observer's, which Main takes through
// the pod's life.
type Runner interface {
	// Prepare loads and checks everything before the pod reports Ready; an error ends the
	// pod before Ready, with the error's text as termination message.
	Prepare(ctx context.Context) error
	// Run works from the agreed start time (which may already be past) until it is done or
	// ctx is cancelled (stop request, SIGTERM); when cancelled it must return promptly with
	// the partial results. podrun fills the report's identity (Role, Pod, Index, RunID),
	// LateStart and Stopped, and Start and End when Run leaves them zero.
	Run(ctx context.Context, start time.Time) (*results.Report, error)
	// Progress returns the key/value pairs of a progress log line; called while Run runs,
	// from another goroutine.
	Progress() []any
}

// Options configure Main. RunID, Role and Token are required.
type Options struct {
	// RunID is the run this pod belongs to; /start and /stop must carry it.
	RunID string
	// Token is the run's control token: every call to the control port must carry it
	// as its bearer token.
	Token string
	// Role is the pod's role, written into the reports; podrun needs it for the empty
	// report of a run stopped before its start.
	Role results.Role
	// Pod is the pod's name in the report; default $POD_NAME, else the host name.
	Pod string
	// Index is the worker's index in the report.
	Index int

	// ControlAddr is where the control port listens; default ":9400".
	ControlAddr string
	// MetricsAddr is where the metrics port listens; default ":9401".
	MetricsAddr string
	// OnListen, when set, is called with the control port's bound address before anything
	// else happens (tests listen on "127.0.0.1:0" and learn the port here).
	OnListen func(addr net.Addr)
	// OnMetricsListen is OnListen for the metrics port.
	OnMetricsListen func(addr net.Addr)
	// TerminationLog is the termination message file; default "/dev/termination-log".
	TerminationLog string
	// Registry is served on /metrics, with the Go and process collectors and the count
	// of refused control calls added; a new one when nil.
	Registry *prometheus.Registry
	Log      logr.Logger
	// ProgressEvery is the period of progress log lines while running; default 5s.
	ProgressEvery time.Duration
	// StartTimeout is how long to wait for /start once Ready before failing; 0 waits
	// until the pod's activeDeadlineSeconds ends it.
	StartTimeout time.Duration
	// ReportGrace is how long the pod waits, after writing its termination message, for
	// the operator to collect its full report on GET /report (collect.go); 0 does not wait.
	ReportGrace time.Duration
}

// Defaults of Options.
const (
	DefaultTerminationLog = "/dev/termination-log"
	DefaultProgressEvery  = 5 * time.Second
)

// DefaultControlAddr and DefaultMetricsAddr are the ports on every interface.
var (
	DefaultControlAddr = fmt.Sprintf(":%d", plan.ControlPort)
	DefaultMetricsAddr = fmt.Sprintf(":%d", plan.MetricsPort)
)

const (
	shutdownTimeout = 2 * time.Second
	readTimeout     = 10 * time.Second
)

// ErrStartTimeout is wrapped by Main's error when /start never came.
var ErrStartTimeout = errors.New("no start signal")

// Main takes runner through a pod's life (see the package comment). It returns nil when
// the run ended with a report (complete or stopped) and the error otherwise; in both cases
// it has written the termination message: the encoded report, or the error's text.
func Main(ctx context.Context, runner Runner, opts Options) (err error) {
	if opts.TerminationLog == "" {
		opts.TerminationLog = DefaultTerminationLog
	}
	p := &pod{opts: opts, log: opts.Log, startSet: make(chan struct{}), stopSet: make(chan struct{}),
		reports: control.NewReportServer(opts.RunID),
		refusedTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "streamreplay_control_refused_total",
			Help: "Calls to the control port refused because they did not carry the run's token.",
		})}
	defer func() {
		if err != nil {
			// Already logged by writeMessage when it fails; the pod fails either way.
			_ = p.writeMessage([]byte(results.Shorten(err.Error(), results.MaxMessageBytes)))
		}
	}()
	if err := p.opts.defaults(); err != nil {
		return err
	}
	if err := p.register(); err != nil {
		return err
	}
	opts = p.opts
	p.runner = runner

	closeControl, err := p.serve("control", opts.ControlAddr, opts.OnListen, p.controlHandler())
	if err != nil {
		return err
	}
	defer closeControl()
	closeMetrics, err := p.serve("metrics", opts.MetricsAddr, opts.OnMetricsListen, p.metricsHandler())
	if err != nil {
		return err
	}
	defer closeMetrics()

	report, err := p.live(ctx, runner)
	if err != nil {
		return err
	}
	msg, err := report.Encode()
	if err != nil {
		return fmt.Errorf("encoding the results: %w", err)
	}
	if err := p.writeMessage(msg); err != nil {
		return err
	}
	p.log.Info("Finished", "stopped", report.Stopped, "messageBytes", len(msg))
	p.awaitCollection(ctx, runner, report)
	return nil
}

// serve opens one port and serves handler on it until the returned func is called.
func (p *pod) serve(name, addr string, onListen func(net.Addr), handler http.Handler) (closeServer func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on the %s port %s: %w", name, addr, err)
	}
	if onListen != nil {
		onListen(lis.Addr())
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: readTimeout, ReadTimeout: readTimeout}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error(err, "Server failed", "port", name, "address", lis.Addr().String())
		}
	}()
	p.log.Info("Port open", "port", name, "address", lis.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			p.log.Error(err, "Closing the server", "port", name)
		}
		<-served
	}, nil
}

func (o *Options) defaults() error {
	if o.RunID == "" {
		return errors.New("podrun: Options.RunID is empty")
	}
	if o.Token == "" {
		return errors.New("podrun: Options.Token is empty: the control port would accept no call")
	}
	if o.Role != results.RoleWorker && o.Role != results.RoleObserver {
		return fmt.Errorf("podrun: Options.Role is %q, want %q or %q", o.Role, results.RoleWorker, results.RoleObserver)
	}
	if o.Pod == "" {
		o.Pod = os.Getenv(plan.EnvPodName)
	}
	if o.Pod == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "streamreplay-" + string(o.Role)
		}
		o.Pod = podName(host)
	}
	if o.ControlAddr == "" {
		o.ControlAddr = DefaultControlAddr
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = DefaultMetricsAddr
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	return nil
}

// register adds the collectors podrun serves next to the runner's.
func (p *pod) register() error {
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), p.refusedTotal} {
		// The caller may have registered them already.
		if err := p.opts.Registry.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return fmt.Errorf("podrun: registering a metrics collector: %w", err)
		}
	}
	return nil
}

type phase int

const (
	phasePreparing phase = iota
	phaseReady
	phaseRunning
	phaseDone
)

// pod is the state the control handlers and Main share.
type pod struct {
	opts   Options
	log    logr.Logger
	runner Runner // set before the control port opens

	mu       sync.Mutex
	phase    phase
	start    time.Time     // the agreed start time; zero until /start
	startSet chan struct{} // closed when start is set
	stopSet  chan struct{} // closed on the first /stop
	stopped  bool

	refused      atomic.Int64 // control calls refused, for the log
	refusedTotal prometheus.Counter

	reports *control.ReportServer // GET /report, once the run is over
}

// live is the pod's life after the control port is open: it returns the final report
// or the error that ends the pod.
func (p *pod) live(ctx context.Context, runner Runner) (*results.Report, error) {
	// A stop request ends the preparation and the run as SIGTERM does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.stopSet:
			cancel()
		case <-ctx.Done():
		}
	}()

	began := time.Now()
	if err := runner.Prepare(ctx); err != nil {
		if ctx.Err() != nil {
			p.log.Info("Stopped while preparing", "cause", p.cause(ctx))
			return p.emptyReport(), nil
		}
		return nil, err
	}
	p.setPhase(phaseReady)
	p.log.Info("Ready", "prepareSeconds", time.Since(began).Seconds())

	start, err := p.awaitStart(ctx)
	if err != nil {
		return nil, err
	}
	if start.IsZero() {
		p.log.Info("Stopped before the start", "cause", p.cause(ctx))
		return p.emptyReport(), nil
	}

	p.setPhase(phaseRunning)
	defer p.setPhase(phaseDone)
	begin := time.Now()
	late := max(0, begin.Sub(start))
	p.log.Info("Starting", "startTime", start, "lateStart", late.String())
	stopProgress := p.progress(runner)
	report, err := runner.Run(ctx, start)
	stopProgress()
	end := time.Now()
	if err != nil {
		return nil, err
	}
	if report == nil {
		return nil, errors.New("podrun: the runner returned no report")
	}
	stopped := ctx.Err() != nil
	p.fill(report, begin, end)
	report.LateStart = late
	report.Stopped = report.Stopped || stopped
	if stopped {
		p.log.Info("Stopped early", "cause", p.cause(ctx))
	}
	return report, nil
}

// awaitStart waits for /start and then for the start time. A zero time means the pod
// was stopped first.
func (p *pod) awaitStart(ctx context.Context) (time.Time, error) {
	var timeout <-chan time.Time
	if p.opts.StartTimeout > 0 {
		t := time.NewTimer(p.opts.StartTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-p.startSet:
	case <-ctx.Done():
		return time.Time{}, nil
	case <-timeout:
		refused := ""
		if n := p.refused.Load(); n > 0 {
			refused = fmt.Sprintf(" (%d calls without this run's token were refused)", n)
		}
		return time.Time{}, fmt.Errorf("%w: the operator did not POST %s to this pod's control port within %s of it becoming Ready%s; "+
			"check that the operator can reach port %d (a NetworkPolicy?) and the operator's logs",
			ErrStartTimeout, control.PathStart, p.opts.StartTimeout, refused, plan.ControlPort)
	}
	start := p.startTime()
	if wait := time.Until(start); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return time.Time{}, nil
		}
	}
	return start, nil
}

// progress logs the runner's progress every ProgressEvery until the returned func is called.
func (p *pod) progress(runner Runner) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(p.opts.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.log.Info("Progress", runner.Progress()...)
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (p *pod) cause(ctx context.Context) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return "stop request"
	}
	if ctx.Err() != nil {
		return "termination signal"
	}
	return "unknown"
}

func (p *pod) fill(r *results.Report, begin, end time.Time) {
	r.Role = p.opts.Role
	r.Pod = p.opts.Pod
	r.Index = p.opts.Index
	r.RunID = p.opts.RunID
	if r.Start.IsZero() {
		r.Start = begin
	}
	if r.End.IsZero() {
		r.End = end
	}
	if r.End.Before(r.Start) {
		r.End = r.Start
	}
}

// emptyReport is the report of a pod stopped before its run began.
func (p *pod) emptyReport() *results.Report {
	now := time.Now()
	r := &results.Report{Stopped: true}
	p.fill(r, now, now)
	if p.opts.Role == results.RoleWorker {
		r.Worker = &results.WorkerResult{}
	} else {
		r.Observer = &results.ObserverResult{}
	}
	return r
}

// WriteError writes err's text (cut to the termination message's size) to the
// termination message file, for a sub-command that fails before it can call Main, such
// as on a bad plan. An empty path means DefaultTerminationLog.
func WriteError(path string, err error) error {
	if path == "" {
		path = DefaultTerminationLog
	}
	p := &pod{opts: Options{TerminationLog: path}, log: logr.Discard()}
	return p.writeMessage([]byte(results.Shorten(err.Error(), results.MaxMessageBytes)))
}

func (p *pod) writeMessage(msg []byte) error {
	// The kubelet reads at most 4096 bytes; 0644 because it reads the file as another user.
	if err := os.WriteFile(p.opts.TerminationLog, msg, 0o644); err != nil { //nolint:gosec // the termination log must be readable by the kubelet
		p.log.Error(err, "Writing the termination message", "path", p.opts.TerminationLog)
		return fmt.Errorf("writing the termination message: %w", err)
	}
	return nil
}

func (p *pod) setPhase(ph phase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase = ph
}

func (p *pod) startTime() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.start
}

// controlHandler serves the control port: /start, /stop, /probe, /status and /report, to
// the bearer of the run's token only (control.RequireToken).
func (p *pod) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(control.PathStart, p.handleStart)
	mux.HandleFunc(control.PathStop, p.handleStop)
	mux.Handle(control.PathReport, p.reports)
	mux.HandleFunc(control.PathProbe, p.handleProbe)
	mux.HandleFunc(control.PathProbe+"/", p.handleProbeResult)
	mux.HandleFunc(control.PathStatus, p.handleStatus)
	return control.RequireToken(p.opts.Token, p.countRefused, mux)
}

// countRefused counts a call refused for want of the token.
func (p *pod) countRefused(r *http.Request) {
	p.refusedTotal.Inc()
	// Logged at the first refusal and at each power of ten, so a flood cannot fill the log.
	if n := p.refused.Add(1); isPowerOfTen(n) {
		p.log.Info("Refused control calls without the run's token", "total", n, "lastFrom", r.RemoteAddr, "lastPath", results.Shorten(r.URL.Path, 64))
	}
}

func isPowerOfTen(n int64) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}

// metricsHandler serves the metrics port: /metrics and the probes, read-only.
func (p *pod) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(control.PathHealth, func(w http.ResponseWriter, _ *http.Request) {
		control.Reply(w, http.StatusOK, "ok")
	})
	mux.HandleFunc(control.PathReady, func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		ph := p.phase
		p.mu.Unlock()
		switch ph {
		case phaseReady, phaseRunning:
			control.Reply(w, http.StatusOK, "ready")
		case phasePreparing:
			control.Reply(w, http.StatusServiceUnavailable, "preparing")
		default:
			control.Reply(w, http.StatusServiceUnavailable, "finished")
		}
	})
	mux.Handle(control.PathMetrics, promhttp.HandlerFor(p.opts.Registry, promhttp.HandlerOpts{}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			control.Reply(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (p *pod) handleStart(w http.ResponseWriter, r *http.Request) {
	var req control.StartRequest
	if !control.DecodeRequest(w, r, &req) || !control.SameRun(w, req.RunID, p.opts.RunID) {
		return
	}
	if err := req.Validate(); err != nil {
		control.Reply(w, http.StatusBadRequest, err.Error())
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.start.IsZero():
		p.start = req.StartTime
		close(p.startSet)
		p.log.Info("Start time received", "startTime", req.StartTime)
		control.Reply(w, http.StatusOK, "starting at "+req.StartTime.UTC().Format(time.RFC3339Nano))
	case p.start.Equal(req.StartTime):
		// The operator re-sends /start after a restart: the same time is fine.
		control.Reply(w, http.StatusOK, "starting at "+p.start.UTC().Format(time.RFC3339Nano))
	default:
		control.Reply(w, http.StatusConflict, fmt.Sprintf("already starting at %s, not %s: the first start time wins",
			p.start.UTC().Format(time.RFC3339Nano), req.StartTime.UTC().Format(time.RFC3339Nano)))
	}
}

func (p *pod) handleStop(w http.ResponseWriter, r *http.Request) {
	var req control.StopRequest
	if !control.DecodeRequest(w, r, &req) || !control.SameRun(w, req.RunID, p.opts.RunID) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.stopSet)
		p.log.Info("Stop requested")
	}
	control.Reply(w, http.StatusOK, "stopping")
}

// podName makes a host name fit the report's pod name: lower case letters, digits, '-'
// and '.' (a pod run as a local process has the machine's name).
func podName(host string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, host)
}
