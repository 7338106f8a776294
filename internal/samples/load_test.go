package samples

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sources(set *Set) []string {
	var s []string
	for _, r := range set.Records {
		s = append(s, r.Source.String()+"="+string(r.Value))
	}
	return s
}

// A folder laid out as a ConfigMap mount (keys are symlinks into ..data,
// which links to a timestamped folder), plus a plain file, a gzip file, a
// hidden file and a subfolder.
func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	ts := filepath.Join(dir, "..2024_05_01_12_00_00.000000001")
	writeFile(t, filepath.Join(ts, "c.jsonl"), []byte(lines(`{"value":"c1"}`, `{"value":"c2"}`)))
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "c.jsonl"), filepath.Join(dir, "c.jsonl")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "b.jsonl"), []byte(lines(`# b`, `{"value":"b1"}`)))
	writeFile(t, filepath.Join(dir, "a.jsonl.gz"), gz(t, []byte(lines(`{"value":"a1"}`))))
	writeFile(t, filepath.Join(dir, "empty.jsonl"), nil)
	// Read, these would fail the set.
	writeFile(t, filepath.Join(dir, ".hidden.jsonl"), []byte("not JSON\n"))
	writeFile(t, filepath.Join(dir, "lost+found", "x.jsonl"), []byte("not JSON\n"))

	set, err := Load(context.Background(), Source{Path: dir, Format: streamreplayv1alpha1.SampleFormatJSONLines})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []string{"a.jsonl.gz:1=a1", "b.jsonl:2=b1", "c.jsonl:1=c1", "c.jsonl:2=c2"}
	if diff := cmp.Diff(want, sources(set)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if want := int64(len(lines(`{"value":"a1"}`)) + len(lines(`# b`, `{"value":"b1"}`)) + len(lines(`{"value":"c1"}`, `{"value":"c2"}`))); set.Bytes != want {
		t.Errorf("Bytes = %d, want %d", set.Bytes, want)
	}

	// The same through the single file.
	set, err = Load(context.Background(), Source{Path: filepath.Join(dir, "c.jsonl"), Format: streamreplayv1alpha1.SampleFormatJSONLines})
	if err != nil {
		t.Fatalf("Load of a file: %v", err)
	}
	if diff := cmp.Diff([]string{"c.jsonl:1=c1", "c.jsonl:2=c2"}, sources(set)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestLoadPathErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad", "1.jsonl"), []byte(lines(`{"value":"ok"}`, `{"vlaue":"x"}`)))
	writeFile(t, filepath.Join(dir, "bad", "2.jsonl"), []byte(lines(`{"value":1x}`)))
	writeFile(t, filepath.Join(dir, "empty", "1.jsonl"), []byte("\n# nothing\n"))
	writeFile(t, filepath.Join(dir, "big", "1.jsonl"), []byte(lines(`{"value":"0123456789"}`, `{"value":"0123456789"}`)))
	writeFile(t, filepath.Join(dir, "big", "2.jsonl"), []byte(lines(`{"value":"0123456789"}`)))
	writeFile(t, filepath.Join(dir, "bomb.gz"), gz(t, []byte(strings.Repeat(lines(`{"value":"0123456789"}`), 10000))))
	if err := os.Mkdir(filepath.Join(dir, "none"), 0o755); err != nil {
		t.Fatal(err)
	}
	const cmName, pvcName = `ConfigMap "crm-cdc-samples", key "samples.jsonl"`, `PersistentVolumeClaim "crm-data", path "cdc"`
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"bad lines of every file", Source{Path: filepath.Join(dir, "bad")},
			"1.jsonl: line 2: unknown field \"vlaue\"\n2.jsonl: line 1: invalid JSON at column 11: unexpected 'x', ',' or '}' expected"},
		{"no records", Source{Path: filepath.Join(dir, "empty")}, filepath.Join(dir, "empty") + ": no records"},
		{"no files", Source{Path: filepath.Join(dir, "none")}, filepath.Join(dir, "none") + ": no sample files in the folder"},
		{"missing", Source{Path: filepath.Join(dir, "missing")}, "sample set: stat " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{"over MaxBytes across files", Source{Path: filepath.Join(dir, "big"), MaxBytes: 60}, "2.jsonl: larger than the limit of 60 bytes (MaxBytes)"},
		{"gzip over MaxBytes uncompressed", Source{Path: filepath.Join(dir, "bomb.gz"), MaxBytes: 100000}, "bomb.gz: larger than the limit of 100000 bytes (MaxBytes)"},
		{"path and URL", Source{Path: dir, URL: "http://x"}, "sample source: both path and URL are set"},
		{"neither", Source{}, "sample source: neither path nor URL is set"},
		{"format", Source{Path: dir, Format: "Avro"}, `unknown sample format "Avro" (want "Auto", "JSONLines" or "Kcat")`},
		// A named source (a mounted ConfigMap key) is named as the user knows it, never by
		// its path in the pod.
		{"named: empty file", Source{Name: cmName, Path: filepath.Join(dir, "empty", "1.jsonl")}, cmName + ": no records"},
		{"named: bad line", Source{Name: cmName, Path: filepath.Join(dir, "bad", "2.jsonl")},
			cmName + ": line 1: invalid JSON at column 11: unexpected 'x', ',' or '}' expected"},
		{"named: missing", Source{Name: cmName, Path: filepath.Join(dir, "missing")}, "sample set " + cmName + ": stat: no such file or directory"},
		{"named: empty folder", Source{Name: pvcName, Path: filepath.Join(dir, "empty")}, pvcName + ": no records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.src.Format == "" {
				tt.src.Format = streamreplayv1alpha1.SampleFormatJSONLines
			}
			set, err := Load(context.Background(), tt.src)
			if err == nil {
				t.Fatalf("Load succeeded with %d records, want an error", len(set.Records))
			}
			if err.Error() != tt.want {
				t.Errorf("error\n  %v\nwant\n  %s", err, tt.want)
			}
		})
	}
	// Exactly at the limit is fine.
	set, err := Load(context.Background(), Source{Path: filepath.Join(dir, "big"), Format: streamreplayv1alpha1.SampleFormatJSONLines, MaxBytes: 69})
	if err != nil || set.Bytes != 69 {
		t.Errorf("Load at the limit: %v", err)
	}
}

func TestLoadCanceled(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "s.jsonl"), []byte(lines(`{"value":"a"}`)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Load(ctx, Source{Path: dir, Format: streamreplayv1alpha1.SampleFormatJSONLines})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func fastRetries(t *testing.T) {
	base, maxWait := retryBase, retryMax
	retryBase, retryMax = time.Millisecond, 5*time.Millisecond
	t.Cleanup(func() { retryBase, retryMax = base, maxWait })
}

func TestLoadURL(t *testing.T) {
	fastRetries(t)
	body := []byte(lines(`{"key":"k","value":"v1"}`, `{"value":"v2"}`))
	var flaky, reset, cut atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/ok.jsonl", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "s3cr3t" {
			http.Error(w, "no token", http.StatusForbidden)
			return
		}
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/s.jsonl.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(gz(t, body))
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "down", http.StatusBadGateway)
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		if reset.Add(1) == 1 { // a network error before any response
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/cut", func(w http.ResponseWriter, r *http.Request) {
		if cut.Add(1) == 1 { // the connection breaks mid-body
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		b := []byte(strings.Repeat(lines(`{"value":"0123456789"}`), 100))
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 100 { // flushed: no Content-Length to check up front
			_, _ = w.Write([]byte(lines(`{"value":"0123456789"}`)))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/big-gzip", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(gz(t, []byte(strings.Repeat(lines(`{"value":"0123456789"}`), 100))))
	})
	mux.HandleFunc("/bad-line", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(lines(`{"value":"a"}`, `{"value":a}`)))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	want := []string{srv.URL + "/ok.jsonl:1=v1", srv.URL + "/ok.jsonl:2=v2"}
	tests := []struct {
		name    string
		src     Source
		want    []string // record sources, or
		wantErr string   // the error
	}{
		{name: "success, query not in sources", src: Source{URL: srv.URL + "/ok.jsonl?token=s3cr3t"}, want: want},
		{name: "gzip body", src: Source{URL: srv.URL + "/s.jsonl.gz"}, want: []string{srv.URL + "/s.jsonl.gz:1=v1", srv.URL + "/s.jsonl.gz:2=v2"}},
		{name: "404 names the URL without its query", src: Source{URL: srv.URL + "/missing.jsonl?token=s3cr3t#frag"},
			wantErr: "GET " + srv.URL + "/missing.jsonl: 404 Not Found"},
		{name: "no password either", src: Source{URL: strings.Replace(srv.URL, "://", "://user:s3cr3t@", 1) + "/missing.jsonl"},
			wantErr: "GET " + srv.URL + "/missing.jsonl: 404 Not Found"},
		{name: "403 is not retried", src: Source{URL: srv.URL + "/ok.jsonl?token=wrong"},
			wantErr: "GET " + srv.URL + "/ok.jsonl: 403 Forbidden"},
		{name: "503 twice then 200", src: Source{URL: srv.URL + "/flaky"}, want: []string{srv.URL + "/flaky:1=v1", srv.URL + "/flaky:2=v2"}},
		{name: "5xx on every attempt", src: Source{URL: srv.URL + "/down", Retries: 2},
			wantErr: "GET " + srv.URL + "/down: 502 Bad Gateway (attempt 2 of 2)"},
		{name: "network error retried", src: Source{URL: srv.URL + "/reset"}, want: []string{srv.URL + "/reset:1=v1", srv.URL + "/reset:2=v2"}},
		{name: "broken body retried", src: Source{URL: srv.URL + "/cut"}, want: []string{srv.URL + "/cut:1=v1", srv.URL + "/cut:2=v2"}},
		{name: "body over MaxBytes by Content-Length", src: Source{URL: srv.URL + "/big", MaxBytes: 1000},
			wantErr: "GET " + srv.URL + "/big: body of 2300 bytes is larger than the limit of 1000 bytes (MaxBytes)"},
		{name: "body over MaxBytes while reading", src: Source{URL: srv.URL + "/big-chunked", MaxBytes: 1000},
			wantErr: srv.URL + "/big-chunked: larger than the limit of 1000 bytes (MaxBytes)"},
		{name: "gzip body over MaxBytes uncompressed", src: Source{URL: srv.URL + "/big-gzip", MaxBytes: 1000},
			wantErr: srv.URL + "/big-gzip: larger than the limit of 1000 bytes (MaxBytes)"},
		{name: "bad line not retried", src: Source{URL: srv.URL + "/bad-line"},
			wantErr: srv.URL + "/bad-line: line 2: \"value\": invalid JSON at column 10: unexpected 'a', a value expected"},
		{name: "scheme", src: Source{URL: "ftp://host/x?token=s3cr3t"}, wantErr: "sample URL ftp://host/x: the scheme must be http or https"},
		{name: "unparsable URL", src: Source{URL: "http://host/%zz?token=s3cr3t"}, wantErr: `sample URL: invalid URL escape "%zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.src.Format = streamreplayv1alpha1.SampleFormatJSONLines
			set, err := Load(context.Background(), tt.src)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Load succeeded, want error %s", tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("error\n  %v\nwant\n  %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("error %v shows the query's token", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, sources(set)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
	if n := flaky.Load(); n != 3 {
		t.Errorf("/flaky was asked %d times, want 3", n)
	}
}

func TestLoadURLCanceled(t *testing.T) {
	fastRetries(t)
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(lines(`{"value":"a"}`)))
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done() // the rest never comes
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	start := time.Now()
	_, err := Load(ctx, Source{URL: srv.URL + "/s?token=s3cr3t", Format: streamreplayv1alpha1.SampleFormatJSONLines})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %v shows the query's token", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Load took %v after the cancel", d)
	}

	// Canceled while waiting to retry.
	ctx, cancel = context.WithCancel(context.Background())
	retryBase, retryMax = time.Hour, time.Hour
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		time.AfterFunc(50*time.Millisecond, cancel)
	}))
	defer srv2.Close()
	_, err = Load(ctx, Source{URL: srv2.URL, Format: streamreplayv1alpha1.SampleFormatJSONLines})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Errorf("error %v, want the 503 and context.Canceled", err)
	}
}

// TestRetryBackoff: waits of d/2 to d, d doubling from retryBase and capped at retryMax
// (the retry loop is Load's own: wait.Backoff's steps ending at the cap change nothing).
func TestRetryBackoff(t *testing.T) {
	for range 50 {
		b := retryBackoff(8)
		for i, d := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
			if got := b.Step(); got < d/2 || got > d {
				t.Fatalf("wait %d = %v, want within [%v, %v]", i+1, got, d/2, d)
			}
		}
	}
}
