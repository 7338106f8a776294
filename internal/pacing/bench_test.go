package pacing

import (
	"testing"
	"time"

	"github.com/streamreplay/streamreplay/internal/plan"
)

type benchCase struct {
	name     string
	sc       plan.Scenario
	length   time.Duration
	recorded []time.Time
	loop     bool
}

// benchCases are runs of a day at the API's largest per-worker rate, where they apply.
func benchCases() []benchCase {
	var st []plan.Stage
	for i := range 50 { // the API's maximum number of stages
		st = append(st, planStage(time.Duration(i%7+1)*time.Minute, int64(i*7919)%10_000_000+1))
	}
	var length time.Duration
	for _, s := range st {
		length += s.Duration.Duration
	}
	rec := make([]time.Time, 100_000)
	at := recordedAt
	for i := range rec {
		at = at.Add(time.Duration(i%13) * 37 * time.Microsecond)
		rec[i] = at
	}
	return []benchCase{
		{name: "Constant", sc: plan.Scenario{Type: "Constant", TargetRate: 10_000_000}, length: 24 * time.Hour},
		{name: "Ramp", sc: plan.Scenario{Type: "Ramp", StartRate: 1000, TargetRate: 10_000_000}, length: 24 * time.Hour},
		{name: "Stages", sc: plan.Scenario{Type: "Stages", Stages: st}, length: length},
		{name: "Replay", sc: plan.Scenario{Type: "Replay", Speed: "1.5"}, length: 24 * time.Hour, recorded: rec, loop: true},
		{name: "ReplayCapped", sc: plan.Scenario{Type: "Replay", Speed: "1.5", TargetRate: 50_000}, length: 24 * time.Hour, recorded: rec, loop: true},
	}
}

// The worker asks for every record in turn; a stride spreads the calls over the whole run.
const benchStride = 7_919_993

func BenchmarkOffset(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			s := mustNew(b, bc.sc, bc.length, bc.recorded, bc.loop)
			total := s.Total()
			var n int64
			var sink time.Duration
			b.ReportAllocs()
			for b.Loop() {
				d, _ := s.Offset(n)
				sink += d
				if n += benchStride; n >= total {
					n -= total
				}
			}
			_ = sink
		})
	}
}

func BenchmarkDue(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			s := mustNew(b, bc.sc, bc.length, bc.recorded, bc.loop)
			length := int64(s.Length())
			var d, sink int64
			b.ReportAllocs()
			for b.Loop() {
				sink += s.Due(time.Duration(d))
				if d += 1_234_567_891; d >= length {
					d -= length
				}
			}
			_ = sink
		})
	}
}
