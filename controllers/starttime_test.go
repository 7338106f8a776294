package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// TestStartTimeKeepsSubSecondPrecision: the start time in status, in the events and in
// every pod's /start call is the same instant, to the microsecond: the clock's reading
// plus the start lead. Whole seconds would move the start by up to a second and eat into
// the lead.
func TestStartTimeKeepsSubSecondPrecision(t *testing.T) {
	h := newHarness(t)
	lt := newLoadTest("precise-start", 2)
	h.create(lt)
	h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseStarting)
	ips := h.readyAll(lt.Name, 3)
	running := h.waitPhase(lt.Name, streamreplayv1alpha1.PhaseRunning)

	// The clock stands still, so the controller read exactly this.
	want := h.clock.Now().Add(300 * time.Millisecond).Truncate(time.Microsecond)
	if want.Nanosecond()%int(time.Second) == 0 {
		t.Fatalf("the test's clock %s has no fraction of a second; it proves nothing", want)
	}
	if got := running.Status.StartTime; got == nil || !got.Time.Equal(want) {
		t.Fatalf("status.startTime = %v, want %s", got, want.Format(time.RFC3339Nano))
	}
	wantText := want.UTC().Format(time.RFC3339Nano)
	if !strings.Contains(running.Status.Message, wantText) {
		t.Errorf("message %q does not name the start time %s", running.Status.Message, wantText)
	}
	fakepods.Eventually(t, "every pod got the start time", 10*time.Second, func() error {
		for name, ip := range ips {
			calls := h.control.StartCalls(ip)
			if len(calls) == 0 {
				return fmt.Errorf("pod %s got no /start", name)
			}
			for _, c := range calls {
				if !c.StartTime.Equal(want) {
					return fmt.Errorf("pod %s got start time %s, want %s", name, c.StartTime.Format(time.RFC3339Nano), wantText)
				}
			}
		}
		return nil
	})
	fakepods.Eventually(t, "the Started and Running events", 10*time.Second, func() error {
		var list eventsv1.EventList
		if err := k8s.List(h.ctx, &list, client.InNamespace(h.namespace)); err != nil {
			return err
		}
		notes := map[string]string{}
		for _, e := range list.Items {
			if e.Regarding.UID == running.UID {
				notes[e.Reason] = e.Note
			}
		}
		for _, reason := range []string{"Started", "Running"} {
			if !strings.Contains(notes[reason], wantText) {
				return fmt.Errorf("%s event %q does not name the start time %s", reason, notes[reason], wantText)
			}
		}
		return nil
	})
}
