package main

import (
	"context"
	"flag"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamreplay/streamreplay/internal/observer"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
)

// runObserver is `streamreplay observer`: the observer pod of a LoadTest, its plan in
// $STREAMREPLAY_PLAN. It reads the DLQ, samples the pipeline's consumer lag and reads its
// output topic from the start until the end of the drain.
func runObserver(args []string) error {
	fs := flag.NewFlagSet("observer", flag.ContinueOnError)
	controlAddr := fs.String("control-address", podrun.DefaultControlAddr, "address of the control port (/start, /stop, /readyz, /healthz, /metrics)")
	termLog := fs.String("termination-log", podrun.DefaultTerminationLog, "file the results or the error are written to at the end")
	startTimeout := fs.Duration("start-timeout", 15*time.Minute, "how long to wait for /start once Ready before failing (0: until the pod's deadline)")
	lagInterval := fs.Duration("lag-interval", observer.DefaultLagInterval, "how often the pipeline's consumer lag is sampled")
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
	if err == nil && p.Role != plan.RoleObserver {
		err = fmt.Errorf("the plan is for role %q, not %q", p.Role, plan.RoleObserver)
	}
	if err != nil {
		return fail(err)
	}
	log = log.WithValues("loadTest", p.LoadTest, "role", string(plan.RoleObserver))

	registry := prometheus.NewRegistry()
	o, err := observer.New(observer.Options{Plan: p, Log: log, Registry: registry, LagInterval: *lagInterval})
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return podrun.Main(ctx, o, podrun.Options{
		RunID:          p.RunID,
		Kind:           results.RoleObserver,
		ControlAddr:    *controlAddr,
		TerminationLog: *termLog,
		Registry:       registry,
		Log:            log,
		StartTimeout:   *startTimeout,
	})
}
