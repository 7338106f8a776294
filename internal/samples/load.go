package samples

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Source says where a sample set is.
type Source struct {
	// Name is how the user knows the source, such as `ConfigMap "crm-cdc-samples", key
	// "samples.jsonl.gz"`: messages show it instead of Path, a mount point in the pod that
	// means nothing to the user. A single file's records and lines are named by it; the
	// files of a folder keep their own names.
	Name     string
	Path     string // a file, or a folder of files read in name order (hidden entries and the ..data/..timestamp entries of ConfigMap mounts skipped, symlinks followed)
	URL      string // http or https
	Format   Format
	MaxBytes int64        // limit on the downloaded or uncompressed size; 0 means 1 GiB
	Client   *http.Client // nil: a client with sensible timeouts
	Retries  int          // for URL: attempts on network errors and 5xx/429, with backoff; 0 means 3
}

const (
	defaultMaxBytes = 1 << 30
	defaultAttempts = 3
	// stallTimeout ends a download that has sent nothing for this long; a
	// whole-request timeout would instead cut large sets on slow links.
	stallTimeout = time.Minute
	// maxRetryAfter caps how long a server's Retry-After can hold a start.
	maxRetryAfter = 30 * time.Second
)

// Backoff between attempts: retryBase, doubled each time, up to retryMax,
// with jitter. Variables so that tests need not wait.
var (
	retryBase = 500 * time.Millisecond
	retryMax  = 10 * time.Second
)

// defaultClient bounds connecting and waiting for headers; the body is
// bounded by stallTimeout and the caller's context.
var defaultClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: t}
}()

// Load reads the whole set from its source. An empty set is an error. A URL answering a
// non-2xx status is an error naming the URL (without its query string, which may hold a
// token) and the status; a body over MaxBytes is an error naming the limit.
//
// A folder's files make one set, in name order; its subfolders are skipped
// (a volume's lost+found, for one), and MaxBytes applies to all files
// together. Retries counts attempts, the first included; below 0 it means
// one. A bad line is never retried.
func Load(ctx context.Context, src Source) (*Set, error) {
	maxBytes := src.MaxBytes
	if maxBytes <= 0 {
		maxBytes = defaultMaxBytes
	}
	switch {
	case src.Path != "" && src.URL != "":
		return nil, errors.New("sample source: both path and URL are set")
	case src.Path != "":
		return loadPath(ctx, src.Path, src.Name, src.Format, maxBytes)
	case src.URL != "":
		return loadURL(ctx, src, maxBytes)
	}
	return nil, errors.New("sample source: neither path nor URL is set")
}

func loadPath(ctx context.Context, path, name string, format Format, maxBytes int64) (*Set, error) {
	p, err := newParser(format, maxBytes)
	if err != nil {
		return nil, err
	}
	shown := path
	if name != "" {
		shown = name
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, sourceError(name, err)
	}
	if !fi.IsDir() {
		fileName := filepath.Base(path)
		if name != "" {
			fileName = name
		}
		return p.finish(shown, p.parseFile(ctx, path, fileName))
	}
	entries, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return nil, sourceError(name, err)
	}
	files := 0
	for _, e := range entries {
		// Hidden files, and a ConfigMap mount's ..data and ..<timestamp>
		// entries, which hold the same keys again.
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		file := filepath.Join(path, e.Name())
		fi, err := os.Stat(file) // follows a ConfigMap key's symlink
		if err != nil {
			return p.finish(shown, sourceError(name, err))
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		files++
		if err := p.parseFile(ctx, file, e.Name()); err != nil {
			return p.finish(shown, err)
		}
	}
	if files == 0 {
		return nil, fmt.Errorf("%s: no sample files in the folder", shown)
	}
	return p.finish(shown, nil)
}

// sourceError is a file system error of the source: with a name, the name and the cause
// without the path, a mount point in the pod.
func sourceError(name string, err error) error {
	var pe *fs.PathError
	if name != "" && errors.As(err, &pe) {
		return fmt.Errorf("sample set %s: %s: %w", name, pe.Op, pe.Err)
	}
	return fmt.Errorf("sample set: %w", err)
}

// parseFile parses one file, named as given in records and errors: its base name, as a
// ConfigMap key would be, or the source's name.
func (p *parser) parseFile(ctx context.Context, file, name string) error {
	f, err := os.Open(file) //nolint:gosec // reading the files the LoadTest names is the point
	if err != nil {
		return sourceError(name, err)
	}
	defer f.Close()
	return p.parse(ctxReader{ctx: ctx, r: f}, name)
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// retryable marks a failure worth another attempt.
type retryable struct {
	err   error
	after time.Duration // the server's Retry-After, if any
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

func loadURL(ctx context.Context, src Source, maxBytes int64) (*Set, error) {
	if _, err := newParser(src.Format, maxBytes); err != nil {
		return nil, err
	}
	u, err := url.Parse(src.URL)
	if err != nil {
		// Not err itself: it quotes the whole URL, token included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("sample URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("sample URL %s: the scheme must be http or https", redact(u))
	}
	client := src.Client
	if client == nil {
		client = defaultClient
	}
	attempts := src.Retries
	switch {
	case attempts == 0:
		attempts = defaultAttempts
	case attempts < 0:
		attempts = 1
	}
	backoff := retryBackoff(attempts)
	for attempt := 1; ; attempt++ {
		set, err := fetch(ctx, client, u, src.Format, maxBytes)
		var r *retryable
		if err == nil || !errors.As(err, &r) {
			return set, err
		}
		if attempt >= attempts {
			return nil, fmt.Errorf("%w (attempt %d of %d)", r.err, attempt, attempts)
		}
		pause := backoff.Step()
		if r.after > 0 {
			pause = min(r.after, maxRetryAfter)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (attempt %d of %d, then %w)", r.err, attempt, attempts, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// retryBackoff waits d/2 to d after a failed attempt, d doubling from retryBase up to
// retryMax: jitter, so that the workers of a test do not retry in step.
func retryBackoff(attempts int) wait.Backoff {
	return wait.Backoff{Duration: retryBase / 2, Factor: 2, Jitter: 1, Cap: retryMax / 2, Steps: attempts}
}

var errStalled = fmt.Errorf("no data received for %v", stallTimeout)

// fetch makes one attempt.
func fetch(ctx context.Context, client *http.Client, u *url.URL, format Format, maxBytes int64) (*Set, error) {
	shown := redact(u)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", shown, unwrapURLError(err))
	}
	resp, err := client.Do(req)
	if err != nil {
		err = fmt.Errorf("GET %s: %w", shown, unwrapURLError(err))
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &retryable{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Drain a little so that the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		err := fmt.Errorf("GET %s: %s", shown, resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, &retryable{err: err, after: retryAfter(resp.Header.Get("Retry-After"))}
		}
		return nil, err
	}
	if resp.ContentLength > maxBytes {
		return nil, fmt.Errorf("GET %s: body of %d bytes is %w", shown, resp.ContentLength, &sizeError{limit: maxBytes})
	}
	body := &bodyReader{r: resp.Body, left: maxBytes, limit: maxBytes, timer: time.AfterFunc(stallTimeout, func() { cancel(errStalled) })}
	defer body.timer.Stop()
	p, err := newParser(format, maxBytes)
	if err != nil {
		return nil, err
	}
	fatal := p.parse(body, shown)
	if body.err != nil {
		// The connection failed mid-body: the set is incomplete, try again.
		if cause := context.Cause(ctx); cause != nil {
			body.err = cause
		}
		err := fmt.Errorf("GET %s: reading the body: %w", shown, body.err)
		if ctx.Err() != nil && !errors.Is(body.err, errStalled) {
			return nil, err // the caller's context
		}
		return nil, &retryable{err: err}
	}
	return p.finish(shown, fatal)
}

// bodyReader counts the downloaded bytes against the limit and notes a
// failed read, to tell a broken connection (retried) from bad data (not).
type bodyReader struct {
	r     io.Reader
	left  int64
	limit int64
	timer *time.Timer
	err   error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, &sizeError{limit: b.limit}
	}
	// One byte over the limit tells a body of exactly the limit from a
	// larger one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.timer.Reset(stallTimeout)
	}
	b.left -= int64(n)
	if b.left < 0 {
		return n, &sizeError{limit: b.limit}
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// redact drops the query (it may hold a token), the fragment and any
// password from a URL shown in errors and record sources.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = "", false, "", ""
	c.User = nil
	return c.String()
}

// unwrapURLError drops the *url.Error layer of a client error, which quotes
// the full URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryAfter reads a Retry-After header's seconds (the date form is rare).
func retryAfter(h string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}
