package main

import (
	"flag"
	"time"

	"github.com/go-logr/logr"
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
	var lagInterval time.Duration
	return podCommand{
		role: results.RoleObserver,
		flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&lagInterval, "lag-interval", observer.DefaultLagInterval, "how often the pipeline's consumer lag is sampled")
		},
		newRunner: func(p *plan.Plan, log logr.Logger, registry *prometheus.Registry) (podrun.Runner, error) {
			return observer.New(observer.Options{Plan: p, Log: log, Registry: registry, LagInterval: lagInterval})
		},
	}.run(args)
}
