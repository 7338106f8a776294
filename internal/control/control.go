// Package control is the protocol between the operator and its pods: the operator POSTs
// /start with the agreed start time, and /stop to end a run early, to each pod's control port.
// Both calls are idempotent, so a restarted operator may send them again.
package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Paths served on the control port.
const (
	PathStart   = "/start"
	PathStop    = "/stop"
	PathReady   = "/readyz"
	PathHealth  = "/healthz"
	PathMetrics = "/metrics"
)

// StartRequest is the body of POST /start.
type StartRequest struct {
	// RunID must match the pod's plan, so a signal never reaches another run's pod.
	RunID string `json:"runID"`
	// StartTime is when every pod begins, the same for all.
	StartTime time.Time `json:"startTime"`
}

// StopRequest is the body of POST /stop.
type StopRequest struct {
	RunID string `json:"runID"`
}

// Client sends control calls. The zero value is not usable: use NewClient.
type Client struct {
	http *http.Client
}

// NewClient gives a Client whose calls each take at most timeout.
func NewClient(timeout time.Duration) *Client {
	return &Client{http: &http.Client{Timeout: timeout}}
}

// Start tells the pod at ip:port when to start.
func (c *Client) Start(ctx context.Context, ip string, port int32, req StartRequest) error {
	return c.post(ctx, ip, port, PathStart, req)
}

// Stop asks the pod at ip:port to finish early and report partial results.
func (c *Client) Stop(ctx context.Context, ip string, port int32, req StopRequest) error {
	return c.post(ctx, ip, port, PathStop, req)
}

func (c *Client) post(ctx context.Context, ip string, port int32, path string, body any) error {
	if ip == "" {
		return errors.New("the pod has no IP address yet")
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", path, err)
	}
	url := "http://" + net.JoinHostPort(ip, strconv.Itoa(int(port))) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("building request to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, bytes.TrimSpace(msg))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}
