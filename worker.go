package main

import (
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/worker"
)

// runWorker is `streamreplay worker`: one replay-worker pod, its plan in $STREAMREPLAY_PLAN.
func runWorker(args []string) error {
	return podCommand{
		role: plan.RoleWorker,
		kind: results.RoleWorker,
		newRole: func(p *plan.Plan, log logr.Logger, registry *prometheus.Registry) (podrun.Role, error) {
			return worker.New(p, worker.Options{Log: log.WithValues("worker", p.Index), Registry: registry})
		},
	}.run(args)
}
