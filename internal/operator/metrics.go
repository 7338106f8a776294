package operator

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/streamreplay/streamreplay/controllers"
)

// loadTestMetrics registers the LoadTest collector on controller-runtime's registry (served
// on the manager's metrics endpoint) while the manager runs and leads: with several
// replicas only the leader exports, so that each LoadTest has one series, not one per
// replica. Unregistering at the end lets one process run managers one after another
// (tests, the sandbox).
type loadTestMetrics struct {
	collector prometheus.Collector
	log       logr.Logger
}

func (m loadTestMetrics) NeedLeaderElection() bool { return true }

func (m loadTestMetrics) Start(ctx context.Context) error {
	if err := metrics.Registry.Register(m.collector); err != nil {
		if errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			// Another manager of this process (tests running several at once) exports them.
			m.log.Info("LoadTest metrics already exported by another manager of this process")
			return nil
		}
		return fmt.Errorf("registering the LoadTest metrics: %w", err)
	}
	<-ctx.Done()
	metrics.Registry.Unregister(m.collector)
	return nil
}

func addLoadTestMetrics(mgr ctrl.Manager) error {
	log := mgr.GetLogger().WithName("metrics")
	c := controllers.NewLoadTestCollector(mgr.GetClient(), log)
	if err := mgr.Add(loadTestMetrics{collector: c, log: log}); err != nil {
		return fmt.Errorf("adding the LoadTest metrics: %w", err)
	}
	return nil
}
