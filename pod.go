package main

import (
	"context"
	"errors"
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

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
)

// podCommand is what the sub-commands run inside the operator's pods share: the flags of
// the pod's life, the logger, the plan from $STREAMREPLAY_PLAN, and podrun.Main.
type podCommand struct {
	// role is the pod's role: the plan must be for it, and the reports name it.
	role results.Role
	// flags registers the role's own flags.
	flags func(fs *flag.FlagSet)
	// newRunner builds the role's work from the plan once the flags are parsed.
	newRunner func(p *plan.Plan, log logr.Logger, registry *prometheus.Registry) (podrun.Runner, error)
	// options, when set, adjusts the pod runner's options last (tests learn the bound
	// ports through OnListen instead of guessing a free one).
	options func(*podrun.Options)
}

func (c podCommand) run(args []string) error {
	fs := flag.NewFlagSet(string(c.role), flag.ContinueOnError)
	controlAddr := fs.String("control-address", podrun.DefaultControlAddr, "address of the control port (the operator's /start and /stop)")
	metricsAddr := fs.String("metrics-address", podrun.DefaultMetricsAddr, "address of the metrics port (/metrics, /readyz, /healthz)")
	tokenFile := fs.String("control-token-file", control.TokenFile, "file holding the run's control token, which every call to the control port must carry")
	termLog := fs.String("termination-log", podrun.DefaultTerminationLog, "file the results or the error are written to at the end")
	startTimeout := fs.Duration("start-timeout", 15*time.Minute, "how long to wait for /start once Ready before failing (0: until the pod's deadline)")
	verbosity := fs.Int("v", 0, "log verbosity; 1 adds the Kafka client's errors")
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h and --help printed the usage: not a failure
		}
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
	if err == nil && p.Role != c.role {
		err = fmt.Errorf("the plan is for role %q, not %q", p.Role, c.role)
	}
	if err != nil {
		return fail(err)
	}
	log = log.WithValues("loadTest", p.LoadTest, "role", string(c.role))
	token, err := control.ReadTokenFile(*tokenFile)
	if err != nil {
		return fail(err)
	}

	registry := prometheus.NewRegistry()
	runner, err := c.newRunner(p, log, registry)
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	opts := podrun.Options{
		RunID:          p.RunID,
		Token:          token,
		Role:           c.role,
		Index:          int(p.Index),
		ControlAddr:    *controlAddr,
		MetricsAddr:    *metricsAddr,
		TerminationLog: *termLog,
		Registry:       registry,
		Log:            log,
		StartTimeout:   *startTimeout,
		ReportGrace:    podrun.DefaultReportGrace,
	}
	if c.options != nil {
		c.options(&opts)
	}
	return podrun.Main(ctx, runner, opts)
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
