package fakekubelet

import (
	"errors"
	"testing"
	"time"
)

// ErrTimeout is what Poll returns when the timeout passed before check was done.
var ErrTimeout = errors.New("timed out")

// pollInterval is how often Eventually checks.
const pollInterval = 50 * time.Millisecond

// Poll calls check, then again every interval, until it is done (Poll returns nil), it
// fails (Poll returns its error at once) or timeout has passed (Poll returns ErrTimeout).
func Poll(interval, timeout time.Duration, check func() (done bool, err error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := check()
		switch {
		case err != nil:
			return err
		case done:
			return nil
		case time.Now().After(deadline):
			return ErrTimeout
		}
		time.Sleep(interval)
	}
}

// Eventually calls check every 50ms until it returns nil. When it still fails after
// timeout, Eventually fails t (Fatalf) with what and check's last error. Call it from the
// test's goroutine.
func Eventually(t testing.TB, what string, timeout time.Duration, check func() error) {
	t.Helper()
	var last error
	if err := Poll(pollInterval, timeout, func() (bool, error) {
		last = check()
		return last == nil, nil
	}); err != nil {
		t.Fatalf("%s: still not true after %s: %v", what, timeout, last)
	}
}
