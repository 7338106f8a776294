package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets are the upper bounds of ack_latency_seconds.
var latencyBuckets = [numBuckets]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

const numBuckets = 13

const metricPrefix = "streamreplay_worker_"

// collector exports at scrape time the stats the worker keeps for its report anyway.
// Only ack_latency_seconds costs per record: observe counts its buckets, under the
// stats lock that each completed batch takes.
type collector struct {
	w                                  *Worker
	sent, acked, failed, bytes         *prometheus.Desc
	latency, behind, targetRate, sched *prometheus.Desc
}

func newCollector(w *Worker) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricPrefix+name, help, labels, nil)
	}
	return &collector{
		w:          w,
		sent:       d("records_sent_total", "Records handed to the Kafka producer."),
		acked:      d("records_acked_total", "Records acknowledged by Kafka."),
		failed:     d("records_failed_total", "Records that failed, by error class (a Kafka error name, Timeout, ...).", "class"),
		bytes:      d("bytes_sent_total", "Bytes of keys, values and headers handed to the producer."),
		latency:    d("ack_latency_seconds", "Acknowledgement latency from each record's intended send time."),
		behind:     d("behind_schedule_seconds", "How far the sends are behind the schedule."),
		targetRate: d("target_rate", "The schedule's current rate for this worker, records per second."),
		sched:      d("records_scheduled_total", "Records the schedule intended to send so far."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sent, c.acked, c.failed, c.bytes, c.latency, c.behind, c.targetRate, c.sched} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := &c.w.st
	ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(st.sent.Load()))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(st.bytes.Load()))
	ch <- prometheus.MustNewConstMetric(c.behind, prometheus.GaugeValue, time.Duration(st.behind.Load()).Seconds())

	st.mu.Lock()
	acked := st.acked
	failed := make(map[string]int64, len(st.errors))
	for class, n := range st.errors {
		failed[class] = n
	}
	buckets := st.buckets
	sum := st.latencySum
	st.mu.Unlock()

	ch <- prometheus.MustNewConstMetric(c.acked, prometheus.CounterValue, float64(acked))
	for class, n := range failed {
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(n), class)
	}
	cumulative := make(map[float64]uint64, len(latencyBuckets))
	var running uint64
	for i, b := range latencyBuckets {
		running += buckets[i]
		cumulative[b.Seconds()] = running
	}
	count := running + buckets[len(latencyBuckets)]
	ch <- prometheus.MustNewConstHistogram(c.latency, count, sum, cumulative)

	// The schedule is read only once Run has published its start (runStart), which
	// happens after Prepare set it.
	var rate float64
	var scheduled int64
	if start := st.runStart.Load(); start != 0 {
		sched := c.w.currentSchedule()
		elapsed := time.Duration(time.Now().UnixNano() - start)
		if elapsed >= 0 && elapsed < sched.Length() && !st.runEnded.Load() {
			rate = float64(sched.Due(elapsed+time.Second/2) - sched.Due(elapsed-time.Second/2))
		}
		// What the schedule asks, not lowered to what the samples allow (loop: false).
		scheduled = sched.Due(min(elapsed, sched.Length()))
	}
	ch <- prometheus.MustNewConstMetric(c.targetRate, prometheus.GaugeValue, rate)
	ch <- prometheus.MustNewConstMetric(c.sched, prometheus.CounterValue, float64(scheduled))
}
