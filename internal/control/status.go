package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/streamreplay/streamreplay/internal/earlystop"
)

// PathStatus is served on the control port: GET gives the pod's live counts, which the
// operator reads while a run with spec.earlyStop goes on. It changes nothing.
const PathStatus = "/status"

// maxAnswer bounds the body of an answer the client reads.
const maxAnswer = 64 << 10

// Status is the answer to GET /status.
type Status struct {
	RunID string `json:"runID"`
	// Phase is the pod's: preparing, ready, running or done.
	Phase    string          `json:"phase"`
	Worker   *WorkerStatus   `json:"worker,omitempty"`
	Observer *ObserverStatus `json:"observer,omitempty"`
}

// WorkerStatus are a worker's running totals.
type WorkerStatus struct {
	// Scheduled is what the worker's whole run schedules, not only what is due yet: the
	// final error ratio's denominator (acknowledged + failed) never exceeds it.
	Scheduled int64 `json:"scheduled"`
	Acked     int64 `json:"acked"`
	Failed    int64 `json:"failed"`
}

// ObserverStatus is what the observer has seen so far.
type ObserverStatus struct {
	// DeadLetters counts this run's dead letters; nil without a dead-letter queue.
	DeadLetters *int64 `json:"deadLetters,omitempty"`
	// EndToEndOver counts the delivered records whose end-to-end latency is over the
	// plan's early-stop limit; nil without that limit.
	EndToEndOver *int64 `json:"endToEndOver,omitempty"`
	// Breach is the threshold the observer saw broken beyond repair (the lag's window),
	// with the moment from the run's start; it stays once set.
	Breach *earlystop.Breach `json:"breach,omitempty"`
}

// Status reads the live counts of the pod at ip:port; token is the run's (Key.Token).
func (c *Client) Status(ctx context.Context, ip string, port int32, token string) (*Status, error) {
	if ip == "" {
		return nil, errors.New("the pod has no IP address yet")
	}
	url := podURL(ip, port, PathStatus)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("building request to %s: %w", url, err)
	}
	var st Status
	if err := c.do(req, token, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
