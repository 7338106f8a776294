package fakepods

import (
	"fmt"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

const (
	// recordBytes is the size of every record a fake worker reports sending.
	recordBytes = 200
	// observerDrain is how long after the workers a fake observer reports ending.
	observerDrain = 2 * time.Second
)

// Worker is what a fake worker pod reports at the end of its run.
type Worker struct {
	Pod   string // the pod's name
	Index int    // the worker's index

	// Records scheduled, acknowledged and failed (with RequestTimedOut); sent are the
	// acknowledged and the failed ones.
	Scheduled, Acked, Failed int64
	// Latencies are the acknowledgement latencies of the acked records, taken in turn:
	// {20ms} acknowledges every record in 20ms.
	Latencies []time.Duration
	// Stopped: the worker was stopped before the end, its results are partial.
	Stopped bool
}

// WorkerReport is the termination message (results.Report, encoded) of a worker of lt's
// run that ran spec.duration from status.startTime.
func WorkerReport(lt *streamreplayv1alpha1.LoadTest, w Worker) (string, error) {
	start, duration, err := runWindow(lt)
	if err != nil {
		return "", err
	}
	hist := results.NewHistogram()
	if len(w.Latencies) > 0 {
		for i := range w.Acked {
			hist.Record(w.Latencies[i%int64(len(w.Latencies))])
		}
	}
	r := &results.Report{
		Version: results.FormatVersion, Role: results.RoleWorker, Index: w.Index, RunID: string(lt.UID),
		Pod: w.Pod, Start: start, End: start.Add(duration), Stopped: w.Stopped,
		Worker: &results.WorkerResult{
			Scheduled: w.Scheduled, Sent: w.Acked + w.Failed, Acked: w.Acked, Failed: w.Failed,
			Bytes: w.Acked * recordBytes, Latency: hist, SendLatency: hist,
		},
	}
	if w.Failed > 0 {
		r.Worker.Errors = map[string]int64{"RequestTimedOut": w.Failed}
	}
	return encode(r)
}

// ObserverReport is the termination message of the observer pod of lt's run that found
// dlq records of the run in the dead letter queue (all of one DataException class).
func ObserverReport(lt *streamreplayv1alpha1.LoadTest, pod string, dlq int64) (string, error) {
	start, duration, err := runWindow(lt)
	if err != nil {
		return "", err
	}
	r := &results.Report{
		Version: results.FormatVersion, Role: results.RoleObserver, RunID: string(lt.UID),
		Pod: pod, Start: start, End: start.Add(duration + observerDrain),
		Observer: &results.ObserverResult{DLQ: &results.DLQResult{Records: dlq}},
	}
	if dlq > 0 {
		r.Observer.DLQ.Classes = []results.DLQClass{{Name: "org.apache.kafka.connect.errors.DataException", Count: dlq}}
	}
	return encode(r)
}

// runWindow is when lt's run started and how long it lasts.
func runWindow(lt *streamreplayv1alpha1.LoadTest) (time.Time, time.Duration, error) {
	if lt.Status.StartTime == nil {
		return time.Time{}, 0, fmt.Errorf("LoadTest %s has no status.startTime", lt.Name)
	}
	if lt.Spec.Duration == nil {
		return time.Time{}, 0, fmt.Errorf("LoadTest %s has no spec.duration", lt.Name)
	}
	return lt.Status.StartTime.Time, lt.Spec.Duration.Duration, nil
}

func encode(r *results.Report) (string, error) {
	b, err := r.Encode()
	if err != nil {
		return "", fmt.Errorf("pod %s: encoding report: %w", r.Pod, err)
	}
	return string(b), nil
}
