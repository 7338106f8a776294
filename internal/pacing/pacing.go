// Package pacing gives the intended send time of every record of a run, for an open-model
// load generator: the schedule is a pure function of the record's index, so it never
// depends on how fast records are actually sent, and a worker that falls behind keeps
// the intended rate (latency is then measured from these times, without coordinated
// omission).
//
// Times are integer nanoseconds from the run's start. Every schedule is the floor of an
// exact time: for Constant, Ramp and Stages, record n is due at the first instant the
// cumulative count N(t) (the integral of the rate) exceeds n, so record 0 is due as soon
// as the rate is positive and a stretch of rate 0 sends nothing. A run covers [0, Length):
// Total counts the records due strictly before Length, which is ceil(N(Length)), the
// integral rounded up (equal to rate×length whenever that product is whole).
package pacing

import (
	"errors"
	"fmt"
	"time"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/plan"
)

// Schedule gives the intended send offset, from the run's start, of record n (0-based).
type Schedule interface {
	// Offset is when record n is due; ok is false once n is past the end of the run.
	Offset(n int64) (d time.Duration, ok bool)
	// Due is how many records are due by elapsed time d (records 0..Due(d)-1 have Offset <= d), capped at the run's total.
	Due(d time.Duration) int64
	// Total is the number of records of the whole run, or -1 when unbounded (never, for these scenarios; kept for clarity).
	Total() int64
	// Length is the run's length.
	Length() time.Duration
}

// ErrNoTimestamp is wrapped by New when a Replay sample has no recorded timestamp.
var ErrNoTimestamp = errors.New("no recorded timestamp")

// New builds the schedule of a scenario for a run of the given length.
// For Replay, recorded are the recorded timestamps of the samples in send order (the
// schedule replays their offsets from the first (earliest) timestamp divided by speed; with
// loop, the set repeats, the next pass starting one mean inter-arrival gap after the previous
// one's last record);
// records with no timestamp make Replay an error naming the first such index. If sc.TargetRate > 0
// for Replay, it caps the rate: a record is never due earlier than n/targetRate.
// loop says whether Replay repeats the set (false: the run ends after the last sample).
//
// An empty Type means Constant, the API's default. Stages take their length from their
// durations: length must equal their sum. A timestamp earlier than one before it (an
// out-of-order recording) is due together with the latest record so far (gap 0), so the
// replay keeps the recording's clock instead of stretching it. A Replay without loop whose
// samples all fall within length ends with its last sample: Length is then 1ns past that
// record's Offset, so that every record of a run is due before Length.
func New(sc plan.Scenario, length time.Duration, recorded []time.Time, loop bool) (Schedule, error) {
	return NewShard(sc, length, recorded, loop, TimelineOf(recorded))
}

// NewShard is New for one worker's shard of a sample set whose timeline is set: a Replay
// counts offsets from the set's first timestamp, and loops with the set's period, so that
// the shards' schedules merge into the recording divided by speed. recorded must lie
// within set. Other scenarios ignore set.
func NewShard(sc plan.Scenario, length time.Duration, recorded []time.Time, loop bool, set Timeline) (Schedule, error) {
	if length < 0 {
		return nil, fmt.Errorf("run length %v is negative", length)
	}
	switch sc.Type {
	case streamreplayv1alpha1.ScenarioConstant, "":
		if sc.TargetRate < 0 {
			return nil, fmt.Errorf("scenario Constant: targetRate %d is negative", sc.TargetRate)
		}
		c, err := newConstant(sc.TargetRate, int64(length))
		if err != nil {
			return nil, fmt.Errorf("scenario Constant: %w", err)
		}
		return c, nil
	case streamreplayv1alpha1.ScenarioRamp:
		if sc.StartRate < 0 || sc.TargetRate < 0 {
			return nil, fmt.Errorf("scenario Ramp: rates %d to %d: a rate is negative", sc.StartRate, sc.TargetRate)
		}
		p, err := newPiecewise([]segment{{length: int64(length), from: sc.StartRate, to: sc.TargetRate}})
		if err != nil {
			return nil, fmt.Errorf("scenario Ramp: %w", err)
		}
		return p, nil
	case streamreplayv1alpha1.ScenarioStages:
		return newStages(sc.Stages, length)
	case streamreplayv1alpha1.ScenarioReplay:
		return newReplay(sc, int64(length), recorded, loop, set)
	default:
		return nil, fmt.Errorf("unknown scenario type %q: want %s, %s, %s or %s", sc.Type, streamreplayv1alpha1.ScenarioConstant, streamreplayv1alpha1.ScenarioRamp, streamreplayv1alpha1.ScenarioStages, streamreplayv1alpha1.ScenarioReplay)
	}
}

func newStages(stages []plan.Stage, length time.Duration) (Schedule, error) {
	if len(stages) == 0 {
		return nil, errors.New("scenario Stages: no stages")
	}
	segs := make([]segment, 0, len(stages))
	var sum time.Duration
	var prev int64 // the rate before the first stage
	for i, st := range stages {
		d := st.Duration.Duration
		switch {
		case d < 0:
			return nil, fmt.Errorf("scenario Stages: stage %d: duration %v is negative", i, d)
		case st.TargetRate < 0:
			return nil, fmt.Errorf("scenario Stages: stage %d: targetRate %d is negative", i, st.TargetRate)
		case sum > maxDuration-d:
			return nil, fmt.Errorf("scenario Stages: stage %d: the durations add up to more than %v", i, maxDuration)
		}
		sum += d
		segs = append(segs, segment{length: int64(d), from: prev, to: st.TargetRate})
		prev = st.TargetRate
	}
	// The caller derives the run's length from the stages too; a difference means one of
	// the two is wrong, and guessing which would pace a different run than the one reported.
	if sum != length {
		return nil, fmt.Errorf("scenario Stages: the stages last %v but the run length is %v", sum, length)
	}
	p, err := newPiecewise(segs)
	if err != nil {
		return nil, fmt.Errorf("scenario Stages: %w", err)
	}
	return p, nil
}

const maxDuration = time.Duration(1<<63 - 1)
