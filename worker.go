package main

import (
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/worker"
)

// runWorker is `streamreplay worker`: one replay-worker pod, its plan in $STREAMREPLAY_PLAN.
func runWorker(args []string) error { return workerCommand().run(args) }

func workerCommand() podCommand {
	return podCommand{
		role: results.RoleWorker,
		newRunner: func(p *plan.Plan, log logr.Logger, registry *prometheus.Registry) (podrun.Runner, error) {
			client, err := sampleSource(&p.Samples)
			if err != nil {
				return nil, err
			}
			return worker.New(p, worker.Options{Log: log.WithValues("worker", p.Index), Registry: registry, HTTPClient: client})
		},
	}
}

// sampleSource reads the sample URL and its headers from their mounted Secret files, so
// that they never travel in the plan. It sets s.URL in memory and returns the client that
// sends the headers (nil: the samples package's own).
func sampleSource(s *plan.Samples) (*http.Client, error) {
	if s.URLFile != "" {
		b, err := os.ReadFile(s.URLFile)
		if err != nil {
			return nil, fmt.Errorf("reading the sample URL: %w", err)
		}
		if s.URL = strings.TrimSpace(string(b)); s.URL == "" {
			return nil, fmt.Errorf("reading the sample URL: %s is empty", s.URLFile)
		}
	}
	if s.HeadersDir == "" {
		return nil, nil //nolint:nilnil // no headers: the default client
	}
	headers, err := readHeaders(s.HeadersDir)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" {
		// Not err: it quotes the URL.
		return nil, fmt.Errorf("the sample URL is not a valid http(s) URL; its headers would have no host to go to")
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: &headerTransport{base: t, scheme: u.Scheme, host: u.Host, headers: headers}}, nil
}

// readHeaders reads one header per file of dir, named after it, as a Secret volume holds
// them (the ..data entries of the mount are skipped). Errors name the header, never its value.
func readHeaders(dir string) (http.Header, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the sample headers: %w", err)
	}
	headers := http.Header{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		file := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		name := textproto.CanonicalMIMEHeaderKey(e.Name())
		if !validHeaderName(name) {
			return nil, fmt.Errorf("sample header %q (a key of headersSecretRef) is not a valid HTTP header name", e.Name())
		}
		b, err := os.ReadFile(file) //nolint:gosec // the pod's own mount
		if err != nil {
			return nil, fmt.Errorf("reading sample header %s: %w", name, err)
		}
		value := strings.TrimRight(string(b), "\r\n")
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, fmt.Errorf("sample header %s: its value has a line break or a NUL", name)
		}
		headers.Set(name, value)
	}
	if len(headers) == 0 {
		return nil, fmt.Errorf("reading the sample headers: %s holds no header", dir)
	}
	return headers, nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		ok := c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok {
			return false
		}
	}
	return true
}

// headerTransport adds the headers to the requests to the sample URL's own scheme and
// host only: a redirect elsewhere does not get them, as Go's client treats Authorization.
type headerTransport struct {
	base         http.RoundTripper
	scheme, host string
	headers      http.Header
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == t.scheme && r.URL.Host == t.host {
		r = r.Clone(r.Context())
		for k, v := range t.headers {
			r.Header[k] = v
		}
	}
	return t.base.RoundTrip(r)
}
