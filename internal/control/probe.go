package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// PathProbe is served on the control port for a Capacity search: POST /probe starts a
// probe, GET /probe/<n>?runID=... answers its figures.
const PathProbe = "/probe"

// ProbeRequest is the body of POST /probe: hold Rate (all workers together; each worker
// sends its plan.Share of it) from StartTime for Hold. Pods accept the same request again
// (idempotent by Probe) and refuse a lower index than one they were given.
type ProbeRequest struct {
	RunID string `json:"runID"`
	// Probe is the probe's index in the search, from 0.
	Probe     int       `json:"probe"`
	Rate      int64     `json:"rate"`
	StartTime time.Time `json:"startTime"`
	// Hold is how long the rate holds, in nanoseconds.
	Hold time.Duration `json:"hold"`
}

// Validate names what is wrong with a request.
func (r ProbeRequest) Validate() error {
	switch {
	case r.Probe < 0:
		return fmt.Errorf("probe %d: the index must be 0 or more", r.Probe)
	case r.Rate < 0:
		return fmt.Errorf("probe %d: rate %d is negative", r.Probe, r.Rate)
	case r.StartTime.IsZero():
		return fmt.Errorf("probe %d: startTime is missing", r.Probe)
	case r.Hold <= 0:
		return fmt.Errorf("probe %d: hold %s must be above 0", r.Probe, r.Hold)
	}
	return nil
}

// Same reports whether two requests ask for the same probe.
func (r ProbeRequest) Same(o ProbeRequest) bool {
	return r.Probe == o.Probe && r.Rate == o.Rate && r.StartTime.Equal(o.StartTime) && r.Hold == o.Hold
}

// ProbeResult answers GET /probe/<n>: a worker's or the observer's figures of one probe.
type ProbeResult struct {
	Probe int `json:"probe"`
	// Done is true once the figures are final: a worker's flush ended; for the observer
	// it is true from the end of the hold (Drained then says whether the lag is gone).
	Done     bool           `json:"done"`
	Worker   *WorkerProbe   `json:"worker,omitempty"`
	Observer *ObserverProbe `json:"observer,omitempty"`
}

// WorkerProbe is one worker's counts during one probe.
type WorkerProbe struct {
	Scheduled    int64 `json:"scheduled"`
	Acknowledged int64 `json:"acknowledged"`
	Failed       int64 `json:"failed"`
	// MaxBehind is how far the worker fell behind its schedule, nanoseconds.
	MaxBehind time.Duration `json:"maxBehind"`
	// ProduceP99 is the acknowledgement p99 from the actual send time, nanoseconds.
	ProduceP99 time.Duration `json:"produceP99"`
}

// LagPoint is one lag sample, At nanoseconds from the probe's start.
type LagPoint struct {
	At  time.Duration `json:"at"`
	Lag int64         `json:"lag"`
}

// ObserverProbe is what the observer saw of one probe, from its start until asked.
type ObserverProbe struct {
	// Lag holds the samples from the probe's start; LagWatched is false without a consumer group.
	Lag        []LagPoint `json:"lag,omitempty"`
	LagWatched bool       `json:"lagWatched"`
	// Drained is true once a lag sample taken after the hold read 0.
	Drained     bool  `json:"drained"`
	DeadLetters int64 `json:"deadLetters"`
	// EndToEndP99 is over the records intended during the hold; HasEndToEnd false when none arrived.
	EndToEndP99 time.Duration `json:"endToEndP99"`
	HasEndToEnd bool          `json:"hasEndToEnd"`
}

// ErrNoProbe is wrapped by ProbeResult's error when the pod has not been asked for that probe.
var ErrNoProbe = errors.New("the pod has no such probe")

// Probe asks the pod at ip:port to run a probe.
func (c *Client) Probe(ctx context.Context, ip string, port int32, token string, req ProbeRequest) error {
	return c.post(ctx, ip, port, token, PathProbe, req)
}

// ProbeResult reads probe n's figures from the pod at ip:port.
func (c *Client) ProbeResult(ctx context.Context, ip string, port int32, token, runID string, n int) (*ProbeResult, error) {
	if ip == "" {
		return nil, errors.New("the pod has no IP address yet")
	}
	u := runURL(ip, port, PathProbe+"/"+strconv.Itoa(n), runID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("building request to %s: %w", PathProbe, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s/%d: %w", PathProbe, n, err)
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s/%d: %s: %w", PathProbe, n, resp.Status, ErrRefused)
	case resp.StatusCode == http.StatusNotFound:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s/%d: %w", PathProbe, n, ErrNoProbe)
	case resp.StatusCode/100 != 2:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s/%d: %s: %s", PathProbe, n, resp.Status, msg)
	}
	var res ProbeResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return nil, fmt.Errorf("GET %s/%d: decoding the answer: %w", PathProbe, n, err)
	}
	if res.Probe != n {
		return nil, fmt.Errorf("GET %s/%d: the pod answered probe %d", PathProbe, n, res.Probe)
	}
	return &res, nil
}
