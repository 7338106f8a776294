package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/streamreplay/streamreplay/internal/results"
)

// PathReport serves a pod's full report once its run is over: GET gives the report and
// its time series (results.SeriesReport), which the 4096-byte termination message cannot
// carry; POST (CollectedRequest) tells the pod that the operator stored it, so the pod
// may end. The pod waits a bounded time for that, and writes its termination message
// before it waits, so a collection that fails loses nothing but the series.
const PathReport = "/report"

// CollectedRequest is the body of POST /report.
type CollectedRequest struct {
	RunID string `json:"runID"`
}

// maxReportBytes bounds a collected report: a series of results.MaxPoints intervals is
// well under 1 MiB.
const maxReportBytes = 8 << 20

// ErrNotFinished is wrapped by Client.Report's error while the pod's run goes on.
var ErrNotFinished = errors.New("the pod's run is not over")

// ReportServer is the pod's side of PathReport. Mount it behind RequireToken, as the
// rest of the control port.
type ReportServer struct {
	runID     string
	mu        sync.Mutex
	body      []byte
	collected chan struct{}
	once      sync.Once
}

// NewReportServer serves the reports of run runID.
func NewReportServer(runID string) *ReportServer {
	return &ReportServer{runID: runID, collected: make(chan struct{})}
}

// Set makes the report available; until then GET answers 409.
func (s *ReportServer) Set(r *results.SeriesReport) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding the report for %s: %w", PathReport, err)
	}
	s.mu.Lock()
	s.body = b
	s.mu.Unlock()
	return nil
}

// Wait waits until the operator said it collected the report, grace passed or ctx
// ended; it reports whether the report was collected.
func (s *ReportServer) Wait(ctx context.Context, grace time.Duration) bool {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-s.collected:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// ServeHTTP answers GET with the report and POST with the acknowledgement.
func (s *ReportServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		if !SameRun(w, r.URL.Query().Get(QueryRunID), s.runID) {
			return
		}
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		if body == nil {
			Reply(w, http.StatusConflict, "the run is not over")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	case http.MethodPost:
		var req CollectedRequest
		if !DecodeRequest(w, r, &req) || !SameRun(w, req.RunID, s.runID) {
			return
		}
		s.once.Do(func() { close(s.collected) })
		Reply(w, http.StatusOK, "collected")
	default:
		w.Header().Set("Allow", "GET, POST")
		Reply(w, http.StatusMethodNotAllowed, "use GET or POST")
	}
}

// Report fetches the full report of the pod at ip:port; its error wraps ErrNotFinished
// while the run goes on, and ErrRefused when the pod refused the token.
func (c *Client) Report(ctx context.Context, ip string, port int32, token, runID string) (*results.SeriesReport, error) {
	if ip == "" {
		return nil, errors.New("the pod has no IP address yet")
	}
	u := runURL(ip, port, PathReport, runID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("building request to %s: %w", u, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("GET %s: %s: %w", u, resp.Status, ErrRefused)
	case resp.StatusCode == http.StatusConflict:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: %s: %w", u, bytes.TrimSpace(msg), ErrNotFinished)
	case resp.StatusCode/100 != 2:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(msg))
	}
	out := new(results.SeriesReport)
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxReportBytes))
	if err := dec.Decode(out); err != nil {
		return nil, fmt.Errorf("GET %s: bad report: %w", u, err)
	}
	return out, nil
}

// Collected tells the pod that its report is stored, so it may end.
func (c *Client) Collected(ctx context.Context, ip string, port int32, token string, req CollectedRequest) error {
	return c.post(ctx, ip, port, token, PathReport, req)
}
