package observer

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamreplay/streamreplay/internal/results"
)

// maxClassLabels bounds the class label of dlq_records_total: class names
// come from the pipeline's exceptions (or a header the user names), so
// classes past the first few count under "other".
const maxClassLabels = 20

type metrics struct {
	dlqRecords *prometheus.CounterVec
	dlqOther   prometheus.Counter
	output     prometheus.Counter
	duplicates prometheus.Counter
	latency    prometheus.Histogram
	lag        prometheus.Gauge

	mu     sync.Mutex
	labels map[string]bool // class labels in use
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "streamreplay", "observer"
	m := &metrics{
		dlqRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "dlq_records_total",
			Help: "Dead letters counted for this run, by error class (the first 20 classes; the rest under \"other\").",
		}, []string{"class"}),
		dlqOther: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "dlq_other_records_total",
			Help: "Dead letters in the run's window that are not of this run.",
		}),
		output: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "output_records_total",
			Help: "Records of this run read on the pipeline's output topic, duplicates included.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "output_duplicates_total",
			Help: "Records of this run read again on the output topic (same worker and sequence).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "end_to_end_latency_seconds",
			Help:    "From a record's intended send time (worker clock) to its arrival on the output topic (observer clock).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms to 33 s
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "consumer_lag_records",
			Help: "Last sampled lag of the pipeline's consumer group on the input topic, all partitions.",
		}),
		labels: map[string]bool{},
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.dlqRecords, m.dlqOther, m.output, m.duplicates, m.latency, m.lag} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// dlqClass gives the counter of a class, within the label bound: the first
// maxClassLabels classes have their own label, later ones share "other".
func (m *metrics) dlqClass(class string) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.labels) >= maxClassLabels && !m.labels[class] {
		class = results.OtherClass
	}
	m.labels[class] = true
	return m.dlqRecords.WithLabelValues(class)
}
