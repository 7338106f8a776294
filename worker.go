package main

import (
	"context"
	"flag"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/worker"
)

// runWorker is `streamreplay worker`: one replay-worker pod, its plan in $STREAMREPLAY_PLAN.
func runWorker(args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	controlAddr := fs.String("control-address", podrun.DefaultControlAddr, "address of the control port (/start, /stop, /readyz, /healthz, /metrics)")
	termLog := fs.String("termination-log", podrun.DefaultTerminationLog, "file the results or the error are written to at the end")
	startTimeout := fs.Duration("start-timeout", 15*time.Minute, "how long to wait for /start once Ready before failing (0: until the pod's deadline)")
	verbosity := fs.Int("v", 0, "log verbosity; 1 adds the Kafka client's errors")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log, flushLog, err := newPodLogger(*verbosity)
	if err != nil {
		return err
	}
	defer flushLog()

	// Before podrun.Main, an error must reach the termination message by hand.
	fail := func(err error) error {
		if werr := podrun.WriteError(*termLog, err); werr != nil {
			log.Error(werr, "Writing the termination message")
		}
		return err
	}
	p, err := plan.FromEnv()
	if err == nil && p.Role != plan.RoleWorker {
		err = fmt.Errorf("the plan is for role %q, not %q", p.Role, plan.RoleWorker)
	}
	if err != nil {
		return fail(err)
	}
	log = log.WithValues("loadTest", p.LoadTest, "worker", p.Index)

	registry := prometheus.NewRegistry()
	w, err := worker.New(p, worker.Options{Log: log, Registry: registry})
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return podrun.Main(ctx, w, podrun.Options{
		RunID:          p.RunID,
		Kind:           results.RoleWorker,
		Index:          int(p.Index),
		ControlAddr:    *controlAddr,
		TerminationLog: *termLog,
		Registry:       registry,
		Log:            log,
		StartTimeout:   *startTimeout,
	})
}

// newPodLogger logs JSON lines with RFC 3339 times to stderr, as the manager does.
func newPodLogger(verbosity int) (logr.Logger, func(), error) {
	cfg := zap.NewProductionConfig()
	cfg.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.Level = zap.NewAtomicLevelAt(zapcore.Level(-verbosity))
	cfg.Sampling = nil
	z, err := cfg.Build()
	if err != nil {
		return logr.Discard(), func() {}, fmt.Errorf("building the logger: %w", err)
	}
	return zapr.NewLogger(z), func() { _ = z.Sync() }, nil
}
