package pacing

import (
	"testing"
	"time"

	"github.com/streamreplay/streamreplay/internal/plan"
)

var recordedAt = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

// recorded gives timestamps at these offsets from recordedAt.
func recorded(offsets ...time.Duration) []time.Time {
	out := make([]time.Time, len(offsets))
	for i, o := range offsets {
		out[i] = recordedAt.Add(o)
	}
	return out
}

const ms = time.Millisecond

func TestReplaySchedules(t *testing.T) {
	for _, tc := range []struct {
		name       string
		speed      string
		targetRate int64
		recorded   []time.Time
		loop       bool
		length     time.Duration
		want       []time.Duration // every offset of the run
		wantLength time.Duration
	}{
		{
			name: "speed 1 by default", recorded: recorded(0, 100*ms, 300*ms, 600*ms), length: 10 * time.Second,
			want: []time.Duration{0, 100 * ms, 300 * ms, 600 * ms}, wantLength: 600*ms + 1,
		},
		{
			name: "speed 2 halves the gaps", speed: "2.0", recorded: recorded(0, 100*ms, 300*ms, 600*ms), length: 10 * time.Second,
			want: []time.Duration{0, 50 * ms, 150 * ms, 300 * ms}, wantLength: 300*ms + 1,
		},
		{
			name: "speed 0.5 doubles them", speed: "0.5", recorded: recorded(0, 100*ms, 300*ms, 600*ms), length: 10 * time.Second,
			want: []time.Duration{0, 200 * ms, 600 * ms, 1200 * ms}, wantLength: 1200*ms + 1,
		},
		{
			name: "speed 3 rounds each offset down, exactly", speed: "3", recorded: recorded(0, 100*ms, 200*ms), length: time.Second,
			want: []time.Duration{0, 33333333, 66666666}, wantLength: 66666667,
		},
		{
			name: "the set starts at its first timestamp", recorded: recorded(5*time.Hour, 5*time.Hour+10*ms), length: time.Second,
			want: []time.Duration{0, 10 * ms}, wantLength: 10*ms + 1,
		},
		{
			// The span is 300ms at speed 2, the mean gap 100ms: passes start at 0, 400ms, 800ms.
			name: "loop starts the next pass one mean gap after the last record", speed: "2", loop: true,
			recorded: recorded(0, 100*ms, 300*ms, 600*ms), length: time.Second,
			want:       []time.Duration{0, 50 * ms, 150 * ms, 300 * ms, 400 * ms, 450 * ms, 550 * ms, 700 * ms, 800 * ms, 850 * ms, 950 * ms},
			wantLength: time.Second,
		},
		{
			name: "without loop the run ends after the last record", recorded: recorded(0, 100*ms, 300*ms), length: time.Hour,
			want: []time.Duration{0, 100 * ms, 300 * ms}, wantLength: 300*ms + 1,
		},
		{
			name: "without loop the length still ends the run", recorded: recorded(0, 100*ms, 300*ms, 600*ms), length: 300 * ms,
			want: []time.Duration{0, 100 * ms}, wantLength: 300 * ms,
		},
		{
			name: "backwards timestamps are a gap of 0", recorded: recorded(0, 10*ms, 5*ms, 12*ms, 12*ms, 3*ms, 20*ms), length: time.Second,
			want: []time.Duration{0, 10 * ms, 10 * ms, 12 * ms, 12 * ms, 12 * ms, 20 * ms}, wantLength: 20*ms + 1,
		},
		{
			name: "the rate cap spaces a burst", targetRate: 10, recorded: recorded(0, 0, 0, 0), length: time.Minute,
			want: []time.Duration{0, 100 * ms, 200 * ms, 300 * ms}, wantLength: 300*ms + 1,
		},
		{
			name: "the rate cap paces a looping burst", targetRate: 10, loop: true, recorded: recorded(0, 0, 0), length: time.Second,
			want:       []time.Duration{0, 100 * ms, 200 * ms, 300 * ms, 400 * ms, 500 * ms, 600 * ms, 700 * ms, 800 * ms, 900 * ms},
			wantLength: time.Second,
		},
		{
			name: "a cap above the recorded rate changes nothing", targetRate: 10, recorded: recorded(0, time.Second, 1500*ms), length: time.Minute,
			want: []time.Duration{0, time.Second, 1500 * ms}, wantLength: 1500*ms + 1,
		},
		{
			// Recorded 10 records/s for 300ms, capped at 5/s: the cap wins from record 1 on,
			// also across the loop.
			name: "the cap holds across passes", targetRate: 5, loop: true, recorded: recorded(0, 100*ms, 200*ms, 300*ms), length: time.Second,
			want: []time.Duration{0, 200 * ms, 400 * ms, 600 * ms, 800 * ms}, wantLength: time.Second,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, plan.Scenario{Type: "Replay", Speed: tc.speed, TargetRate: tc.targetRate}, tc.length, tc.recorded, tc.loop)
			if s.Total() != int64(len(tc.want)) {
				t.Fatalf("Total %d, want %d", s.Total(), len(tc.want))
			}
			if got := offsets(t, s, s.Total()); !equalDurations(got, tc.want) {
				t.Errorf("offsets %v, want %v", got, tc.want)
			}
			if _, ok := s.Offset(s.Total()); ok {
				t.Errorf("Offset(Total) is ok")
			}
			if s.Length() != tc.wantLength {
				t.Errorf("Length %v, want %v", s.Length(), tc.wantLength)
			}
			if got := s.Due(time.Duration(1<<63 - 1)); got != s.Total() {
				t.Errorf("Due(forever) = %d, want the total %d", got, s.Total())
			}
		})
	}
}

// A mean gap that is not a whole number of nanoseconds must not drift over many passes.
func TestReplayLoopDoesNotDrift(t *testing.T) {
	// Span 200ms+1ns over 2 gaps: the period is 300ms+1.5ns.
	s := mustNew(t, plan.Scenario{Type: "Replay"}, 400*time.Second, recorded(0, 100*ms, 200*ms+1), true)
	for _, tc := range []struct {
		pass int64
		want time.Duration
	}{
		{1, 300*ms + 1},
		{2, 600*ms + 3},
		{1000, 300*time.Second + 1500},
		{1001, 300*time.Second + 300*ms + 1501},
	} {
		got, ok := s.Offset(3 * tc.pass)
		if !ok || got != tc.want {
			t.Errorf("pass %d starts at %v (ok %v), want %v", tc.pass, got, ok, tc.want)
		}
		if last, _ := s.Offset(3*tc.pass + 2); last != tc.want+200*ms+1 {
			t.Errorf("pass %d ends at %v, want %v", tc.pass, last, tc.want+200*ms+1)
		}
	}
}

func TestReplayDueCountsAcrossPasses(t *testing.T) {
	s := mustNew(t, plan.Scenario{Type: "Replay", Speed: "2"}, time.Second, recorded(0, 100*ms, 300*ms, 600*ms), true)
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{-1, 0}, {0, 1}, {49 * ms, 1}, {50 * ms, 2}, {300 * ms, 4}, {399 * ms, 4}, {400 * ms, 5},
		{700 * ms, 8}, {800*ms - 1, 8}, {800 * ms, 9}, {999 * ms, 11}, {time.Hour, 11},
	} {
		if got := s.Due(tc.d); got != tc.want {
			t.Errorf("Due(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

// TestReplayShardsShareTheSetsTimeline splits a recording between two shards, one key
// recorded from 0 to 9.9 s and another from 5.05 s to 9.95 s: each record is due at
// (ts − ts₀)/speed, ts₀ being the whole set's first timestamp, so the shards merge into
// the recording divided by speed. Each shard's own first timestamp would send both at +0.
func TestReplayShardsShareTheSetsTimeline(t *testing.T) {
	var a, b []time.Duration
	for i := range 100 {
		a = append(a, time.Duration(i)*100*ms) // 0 .. 9.9 s
	}
	for i := range 50 {
		b = append(b, 5050*ms+time.Duration(i)*100*ms) // 5.05 .. 9.95 s
	}
	set := TimelineOf(recorded(append(append([]time.Duration{}, a...), b...)...))
	if set.Records != 150 || !set.First.Equal(recordedAt) || !set.Last.Equal(recordedAt.Add(9950*ms)) {
		t.Fatalf("TimelineOf = %+v", set)
	}
	sc := plan.Scenario{Type: "Replay", Speed: "2"}
	for name, shard := range map[string][]time.Duration{"a": a, "b": b} {
		s, err := NewShard(sc, time.Minute, recorded(shard...), false, set)
		if err != nil {
			t.Fatal(err)
		}
		got := offsets(t, s, s.Total())
		for i, ts := range shard {
			if want := ts / 2; got[i] != want {
				t.Fatalf("shard %s: record %d recorded at +%v is due at %v, want %v", name, i, ts, got[i], want)
			}
		}
	}

	// Looping, both shards repeat with the set's period: its span (9.95 s) plus one mean
	// gap of its 150 records, 9.95·150/149 s, at speed 2.
	period := time.Duration(int64(9950*ms) * 150 / 149 / 2)
	for name, shard := range map[string][]time.Duration{"a": a, "b": b} {
		s, err := NewShard(sc, 20*time.Second, recorded(shard...), true, set)
		if err != nil {
			t.Fatal(err)
		}
		m := int64(len(shard))
		if got, _ := s.Offset(m); got != period+shard[0]/2 {
			t.Errorf("shard %s: the second pass's first record is due at %v, want %v", name, got, period+shard[0]/2)
		}
	}

	// A shard's timestamp outside the set's timeline is a caller's mistake.
	if _, err := NewShard(sc, time.Minute, recorded(-time.Second), false, set); err == nil {
		t.Error("NewShard accepted a timestamp before the set's first")
	}
}
