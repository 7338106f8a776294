package observer

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamreplay/streamreplay/internal/plan"
)

// TestStartOffsetsRetried: a broker that fails to list offsets twice costs the run
// nothing; a third failure ends it with an error naming the brokers and the cause.
func TestStartOffsetsRetried(t *testing.T) {
	saved := startBackoff
	startBackoff.Duration = 10 * time.Millisecond
	t.Cleanup(func() { startBackoff = saved })
	for _, tc := range []struct {
		failures int
		wantErr  bool
	}{{failures: 2}, {failures: 3, wantErr: true}} {
		c := newFakeCluster(t, 1, map[string]int32{"dlq": 1})
		// One partition: one ListOffsets request for the first step of each attempt.
		var armed atomic.Bool
		var failed atomic.Int32
		c.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			if !armed.Load() || failed.Load() >= int32(tc.failures) {
				return nil, nil, false // kfake answers
			}
			failed.Add(1)
			r := req.(*kmsg.ListOffsetsRequest)
			resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
			for _, rt := range r.Topics {
				st := kmsg.NewListOffsetsResponseTopic()
				st.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					sp := kmsg.NewListOffsetsResponseTopicPartition()
					sp.Partition, sp.ErrorCode = rp.Partition, kerr.NotLeaderForPartition.Code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return resp, nil, true
		})
		p := testPlan(c.ListenAddrs(), 100*time.Millisecond, 100*time.Millisecond)
		p.DLQ = &plan.DLQ{Topic: "dlq"}
		o, err := New(Options{Plan: p, Pod: "lt-observer", Log: testr.New(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := o.Prepare(ctx); err != nil {
			cancel()
			t.Fatal(err)
		}
		armed.Store(true)
		_, err = o.Run(ctx, time.Now())
		cancel()
		if n := failed.Load(); n != int32(tc.failures) {
			t.Errorf("%d failures: the broker failed %d requests", tc.failures, n)
		}
		switch {
		case tc.wantErr && (err == nil || !strings.Contains(err.Error(), "finding the run's start offsets") || !strings.Contains(err.Error(), "Leader")):
			t.Errorf("%d failures: Run = %v, want the start offsets' error", tc.failures, err)
		case !tc.wantErr && err != nil:
			t.Errorf("%d failures: Run = %v, want the retries to cover them", tc.failures, err)
		}
	}
}
