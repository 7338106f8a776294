package controllers

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/results"
)

// ResultsKeySeries is the key of the results ConfigMap's binaryData where the series
// collected so far are kept, merged, gzipped JSON (collectedSeries): a restarted operator
// finds there what pods that have ended since sent it.
const ResultsKeySeries = "series.json.gz"

// maxSeriesBytes bounds the stored series, so that the ConfigMap, results.json with its
// timeline included, stays well under the API's 1 MiB: past it the series is coarsened
// (intervals merged in pairs) until it fits.
const maxSeriesBytes = 384 << 10

// ReportCollector fetches a pod's full report (its series included) over the control port
// once its run is over, and tells the pod it may end. HTTPSignaller implements it; a
// PodSignaller without it collects nothing, and the results say the series is missing.
type ReportCollector interface {
	Report(ctx context.Context, pod *corev1.Pod, runID string) (*results.SeriesReport, error)
	Collected(ctx context.Context, pod *corev1.Pod, runID string) error
}

// Report implements ReportCollector.
func (h HTTPSignaller) Report(ctx context.Context, pod *corev1.Pod, runID string) (*results.SeriesReport, error) {
	return h.Client.Report(ctx, pod.Status.PodIP, controlPort(pod), h.Key.Token(runID), runID)
}

// Collected implements ReportCollector.
func (h HTTPSignaller) Collected(ctx context.Context, pod *corev1.Pod, runID string) error {
	return h.Client.Collected(ctx, pod.Status.PodIP, controlPort(pod), h.Key.Token(runID), control.CollectedRequest{RunID: runID})
}

// collectedSeries is what ResultsKeySeries holds: the pods whose series are merged in.
type collectedSeries struct {
	Pods   []string        `json:"pods"`
	Series *results.Series `json:"series,omitempty"`
}

// collectReports fetches the full report of every pod whose run is over (it turned not
// Ready) and that has not ended, merges its series into the ConfigMap, and then lets the
// pod end. Failures are logged and retried; they never fail the run: the termination
// messages carry the results, and the report then says which series are missing.
func (s *runStep) collectReports(ctx context.Context) {
	rc, ok := s.r.Signals.(ReportCollector)
	if !ok || s.r.APIReader == nil || s.lt.Status.StartTime == nil {
		return
	}
	var due []*member
	for i := range s.members {
		m := &s.members[i]
		if m.pod != nil && !m.finished() && !m.ready() && m.pod.Status.PodIP != "" {
			due = append(due, m)
		}
	}
	if len(due) == 0 {
		return
	}
	log := logf.FromContext(ctx)
	state, err := s.loadSeries(ctx)
	if err != nil {
		log.Error(err, "Reading the collected series")
		s.requeueAfter = min(s.requeueAfter, retrySignal)
		return
	}
	runID := s.lt.Status.RunID
	// The control calls share the reconcile's signalling budget; the ConfigMap's do not.
	cctx, cancel := s.signalContext(ctx)
	defer cancel()
	var collected []*member
	changed := false
	for _, m := range due {
		if slices.Contains(state.Pods, m.name) {
			collected = append(collected, m) // stored before a restart: only the acknowledgement is missing
			continue
		}
		full, err := rc.Report(cctx, m.pod, runID)
		if errors.Is(err, control.ErrNotFinished) {
			continue
		}
		if err == nil {
			err = full.Check(runID, m.name)
		}
		if err == nil && full.Series != nil {
			if state.Series == nil {
				state.Series = results.NewSeries(full.Series.Start)
			}
			err = state.Series.Merge(full.Series)
		}
		if err != nil {
			log.Info("Could not collect a pod's report; its termination message remains", "pod", m.name, "error", err.Error())
			continue
		}
		state.Pods = append(state.Pods, m.name)
		collected = append(collected, m)
		changed = true
	}
	if changed {
		if err := s.storeSeries(ctx, state); err != nil {
			log.Error(err, "Storing the collected series")
			s.requeueAfter = min(s.requeueAfter, retrySignal)
			return
		}
	}
	for _, m := range collected {
		if err := rc.Collected(cctx, m.pod, runID); err != nil {
			log.V(1).Info("Could not tell a pod its report was collected; it ends after its grace period", "pod", m.name, "error", err.Error())
		}
	}
	if len(collected) < len(due) {
		s.requeueAfter = min(s.requeueAfter, retrySignal)
	}
}

// timeline is the run's series for the results document, naming the pods whose series
// is missing; nil when this operator collects no series at all.
func (s *runStep) timeline(ctx context.Context) *results.Timeline {
	if _, ok := s.r.Signals.(ReportCollector); !ok || s.r.APIReader == nil {
		return nil
	}
	state, err := s.loadSeries(ctx)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Reading the collected series; the results go without")
		state = &collectedSeries{}
	}
	var missing []string
	for i := range s.members {
		if name := s.members[i].name; !slices.Contains(state.Pods, name) {
			missing = append(missing, name)
		}
	}
	series := state.Series
	if series == nil {
		var start time.Time
		if st := s.lt.Status.StartTime; st != nil {
			start = st.Time
		}
		series = results.NewSeries(start)
	}
	return series.Timeline(missing)
}

func (s *runStep) loadSeries(ctx context.Context) (*collectedSeries, error) {
	var cm corev1.ConfigMap
	key := types.NamespacedName{Namespace: s.lt.Namespace, Name: ResultsConfigMapName(s.lt)}
	if err := s.r.APIReader.Get(ctx, key, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return &collectedSeries{}, nil
		}
		return nil, fmt.Errorf("reading ConfigMap %s: %w", key.Name, err)
	}
	return decodeSeries(cm.BinaryData[ResultsKeySeries])
}

func (s *runStep) storeSeries(ctx context.Context, state *collectedSeries) error {
	b, err := encodeSeries(state)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"binaryData": map[string][]byte{ResultsKeySeries: b}})
	if err != nil {
		return fmt.Errorf("encoding the series patch: %w", err)
	}
	cm := BuildResultsConfigMap(s.lt)
	if err := s.r.Patch(ctx, cm, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("writing the series into ConfigMap %s: %w", cm.Name, err)
	}
	return nil
}

// encodeSeries gzips the state's JSON, coarsening the series until it fits maxSeriesBytes.
func encodeSeries(state *collectedSeries) ([]byte, error) {
	for {
		raw, err := json.Marshal(state)
		if err != nil {
			return nil, fmt.Errorf("encoding the collected series: %w", err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(raw); err != nil {
			return nil, fmt.Errorf("compressing the collected series: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("compressing the collected series: %w", err)
		}
		if buf.Len() <= maxSeriesBytes || state.Series == nil || len(state.Series.Points) <= 1 {
			return buf.Bytes(), nil
		}
		if err := state.Series.Coarsen(); err != nil {
			return nil, err
		}
	}
}

func decodeSeries(b []byte) (*collectedSeries, error) {
	state := &collectedSeries{}
	if len(b) == 0 {
		return state, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ResultsKeySeries, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ResultsKeySeries, err)
	}
	if err := json.Unmarshal(raw, state); err != nil {
		return nil, fmt.Errorf("reading %s: %w", ResultsKeySeries, err)
	}
	return state, nil
}
