// Package control is the protocol between the operator and its pods' control port: the
// paths, the requests and answers, the run's bearer token (an HMAC of the run id under a
// key only the operator holds), the operator's client and the rules the pod's handlers
// follow (docs/design.md, "The control protocol").
package control

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Paths served on the control port (PathStart, PathStop) and on the metrics port (the others).
const (
	PathStart   = "/start"
	PathStop    = "/stop"
	PathReady   = "/readyz"
	PathHealth  = "/healthz"
	PathMetrics = "/metrics"
)

// Where the run's token reaches a pod: the key TokenKey of the run's Secret, mounted in
// TokenDir (so the file is TokenFile).
const (
	TokenKey  = "token"
	TokenDir  = "/var/run/streamreplay/control" //nolint:gosec // a mount folder, not a credential
	TokenFile = TokenDir + "/" + TokenKey
)

// KeySize is the size of a new key in bytes, and the least a key may have.
const KeySize = 32

// tokenContext separates these tokens from any other use of the same key.
const tokenContext = "streamreplay control token v1\x00"

// Key signs the runs' control tokens. It is a secret of the operator.
type Key []byte

// NewKey is a random key of KeySize bytes.
func NewKey() (Key, error) {
	k := make(Key, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generating a control key: %w", err)
	}
	return k, nil
}

// Validate checks that the key is long enough to sign tokens.
func (k Key) Validate() error {
	if len(k) < KeySize {
		return fmt.Errorf("the control key has %d bytes, want at least %d", len(k), KeySize)
	}
	return nil
}

// Token is the bearer token of the run runID: HMAC-SHA256 of the run id under the key,
// in unpadded base64url (43 characters).
func (k Key) Token(runID string) string {
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(tokenContext))
	mac.Write([]byte(runID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Authorized reports whether r carries token as its bearer token. The comparison takes
// the same time whatever the presented value, its length included.
func Authorized(r *http.Request, token string) bool {
	presented, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	// Comparing digests hides the length of the token too.
	got, want := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && ok && token != ""
}

// ReadTokenFile reads a pod's token from its mounted file. Errors name the file, never
// its content.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the path is the pod's own mount, from its arguments
	if err != nil {
		return "", fmt.Errorf("reading the control token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("reading the control token: %s is empty", path)
	}
	return token, nil
}

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

// ErrRefused is wrapped by the error of a call the pod refused as unauthenticated.
var ErrRefused = errors.New("the pod refused the token")

// Start tells the pod at ip:port when to start; token is the run's (Key.Token).
func (c *Client) Start(ctx context.Context, ip string, port int32, token string, req StartRequest) error {
	return c.post(ctx, ip, port, token, PathStart, req)
}

// Stop asks the pod at ip:port to finish early and report partial results.
func (c *Client) Stop(ctx context.Context, ip string, port int32, token string, req StopRequest) error {
	return c.post(ctx, ip, port, token, PathStop, req)
}

// podURL is the URL of path on a pod's control port.
func podURL(ip string, port int32, path string) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(int(port))) + path
}

// runURL is podURL for a GET of run runID.
func runURL(ip string, port int32, path, runID string) string {
	return podURL(ip, port, path) + "?" + QueryRunID + "=" + url.QueryEscape(runID)
}

func (c *Client) post(ctx context.Context, ip string, port int32, token, path string, body any) error {
	if ip == "" {
		return errors.New("the pod has no IP address yet")
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", path, err)
	}
	url := podURL(ip, port, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("building request to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, token, nil)
}

// do sends req with the bearer token and, when into is not nil, decodes the JSON answer
// into it. A 401 wraps ErrRefused; any other non-2xx answer is an error with its text.
func (c *Client) do(req *http.Request, token string, into any) error {
	req.Header.Set("Authorization", "Bearer "+token)
	url := req.URL.String()
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusUnauthorized {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %w (the pod's token file does not hold this run's token)", req.Method, url, resp.Status, ErrRefused)
	}
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", req.Method, url, resp.Status, bytes.TrimSpace(msg))
	}
	if into != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(into); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", req.Method, url, err)
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	return nil
}
