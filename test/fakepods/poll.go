package fakepods

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// pollInterval is how often Eventually checks.
const pollInterval = 50 * time.Millisecond

// Eventually calls check every 50ms until it returns nil. When it still fails after
// timeout, Eventually fails t (Fatalf) with what and check's last error. Call it from the
// test's goroutine.
func Eventually(t testing.TB, what string, timeout time.Duration, check func() error) {
	t.Helper()
	var last error
	if err := wait.PollUntilContextTimeout(context.Background(), pollInterval, timeout, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	}); err != nil {
		t.Fatalf("%s: still not true after %s: %v", what, timeout, last)
	}
}
