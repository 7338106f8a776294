package controllers

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// Names of the manager's LoadTest metrics (config/prometheus/alerts.yaml and the Grafana
// dashboard query them; test/config checks that they exist).
const (
	MetricLoadTestStatus        = "streamreplay_loadtest_status"
	MetricLoadTestStartDeadline = "streamreplay_loadtest_start_deadline_timestamp_seconds"
)

// collectTimeout bounds one scrape's list of LoadTests (from the cache: normally instant).
const collectTimeout = 5 * time.Second

// LoadTestCollector exports every LoadTest's phase and verdict at scrape time, read from the
// manager's cache, like kube-state-metrics does for built-in objects: one series per LoadTest
// object (the cardinality is the number of LoadTests the cluster keeps; phase and verdict
// are closed enums, and a LoadTest is in one phase at a time).
type LoadTestCollector struct {
	Reader client.Reader
	Log    logr.Logger

	status, deadline *prometheus.Desc
}

// NewLoadTestCollector reads LoadTests through reader (the manager's cached client).
func NewLoadTestCollector(reader client.Reader, log logr.Logger) *LoadTestCollector {
	return &LoadTestCollector{
		Reader: reader,
		Log:    log,
		status: prometheus.NewDesc(MetricLoadTestStatus,
			"1 for each LoadTest, labelled with its phase and its verdict (empty until it finishes).",
			[]string{"namespace", "loadtest", "phase", "verdict"}, nil),
		deadline: prometheus.NewDesc(MetricLoadTestStartDeadline,
			"While a LoadTest is Pending or Starting: when the operator must have started it or ended it in Error "+
				"(creation + timeouts.podsReady + timeouts.start), Unix seconds.",
			[]string{"namespace", "loadtest", "phase"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *LoadTestCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.status
	ch <- c.deadline
}

// Collect implements prometheus.Collector.
func (c *LoadTestCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	var list streamreplayv1alpha1.LoadTestList
	if err := c.Reader.List(ctx, &list); err != nil {
		// A scrape without the series is better than series that lie; the error is visible
		// as the metric's absence and in the log.
		c.Log.Error(err, "Listing LoadTests for the metrics")
		ch <- prometheus.NewInvalidMetric(c.status, err)
		return
	}
	for i := range list.Items {
		lt := &list.Items[i]
		phase := lt.Status.Phase
		if phase == "" {
			// Not reconciled yet: the operator will write Pending first.
			phase = streamreplayv1alpha1.PhasePending
		}
		ch <- prometheus.MustNewConstMetric(c.status, prometheus.GaugeValue, 1,
			lt.Namespace, lt.Name, string(phase), string(lt.Status.Verdict))
		if phase == streamreplayv1alpha1.PhasePending || phase == streamreplayv1alpha1.PhaseStarting {
			deadline := lt.CreationTimestamp.Add(readyTimeout(&lt.Spec) + startTimeout(&lt.Spec))
			ch <- prometheus.MustNewConstMetric(c.deadline, prometheus.GaugeValue,
				float64(deadline.UnixNano())/1e9, lt.Namespace, lt.Name, string(phase))
		}
	}
}
