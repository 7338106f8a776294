package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/podrun"
	"github.com/streamreplay/streamreplay/internal/results"
)

// TestWorkerCommand runs `streamreplay worker` as the local pod runner does: plan in the
// environment, control port and termination log from flags.
func TestWorkerCommand(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	samples := filepath.Join(dir, "samples.jsonl")
	if err := os.WriteFile(samples, []byte(`{"key":"a","value":{"n":1}}`+"\n"+`{"key":"b","value":"two"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := plan.Plan{
		Role: results.RoleWorker, RunID: "uid-42", LoadTest: "ns/lt", Index: 0, Workers: 1,
		Scenario: plan.Scenario{Type: "Constant", TargetRate: 200}, Duration: metav1.Duration{Duration: 500 * time.Millisecond},
		Samples: plan.Samples{Path: samples, Format: "JSONLines", Loop: true},
		Kafka:   plan.Kafka{BootstrapServers: c.ListenAddrs()},
		Target:  plan.Target{Topic: "in", Partitioning: "Key", Acks: "All", Compression: "Snappy"},
	}
	encoded, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(plan.EnvPlan, encoded)
	t.Setenv(plan.EnvPodName, "lt-worker-0")

	termLog := filepath.Join(dir, "termination-log")
	key, err := control.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	token := key.Token(p.RunID)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o440); err != nil {
		t.Fatal(err)
	}
	// Port 0 and the bound addresses from the pod runner: no free port guessed and lost.
	controlAddr, metricsAddr := make(chan net.Addr, 1), make(chan net.Addr, 1)
	cmd := workerCommand()
	cmd.options = func(o *podrun.Options) {
		o.OnListen = func(a net.Addr) { controlAddr <- a }
		o.OnMetricsListen = func(a net.Addr) { metricsAddr <- a }
	}
	done := make(chan error, 1)
	go func() {
		done <- cmd.run([]string{"--control-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0",
			"--control-token-file", tokenFile, "--termination-log", termLog})
	}()
	port := int32(boundAddr(t, controlAddr, done).(*net.TCPAddr).Port)
	base := "http://" + boundAddr(t, metricsAddr, done).String()
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get(base + control.PathReady)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK, nil // not yet listening: poll again
	}); err != nil {
		t.Fatal("the worker never became Ready")
	}
	c2 := control.NewClient(2 * time.Second)
	err = c2.Start(context.Background(), "127.0.0.1", port, key.Token("another-run"), control.StartRequest{RunID: p.RunID, StartTime: time.Now()})
	if !errors.Is(err, control.ErrRefused) {
		t.Fatalf("/start with another run's token = %v, want it refused", err)
	}
	err = c2.Start(context.Background(), "127.0.0.1", port, token, control.StartRequest{RunID: p.RunID, StartTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// Its run over, the worker serves its full report and series until the operator says
	// it collected them; then it ends.
	var full *results.SeriesReport
	var reportErr error
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		full, reportErr = c2.Report(ctx, "127.0.0.1", port, token, p.RunID)
		return reportErr == nil, nil // not over yet: poll again
	}); err != nil {
		t.Fatalf("GET /report: %v", reportErr)
	}
	var acked int64
	for _, pt := range full.Series.Points {
		acked += pt.Acked
	}
	if acked != 100 || full.Report.Worker.Acked != 100 {
		t.Errorf("collected report: %d acknowledged, %d in the series; want 100 in both", full.Report.Worker.Acked, acked)
	}
	if err := c2.Collected(context.Background(), "127.0.0.1", port, token, control.CollectedRequest{RunID: p.RunID}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runWorker: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the worker did not finish")
	}
	msg, err := os.ReadFile(termLog)
	if err != nil {
		t.Fatal(err)
	}
	r, err := results.Decode(msg)
	if err != nil {
		t.Fatalf("termination message %q: %v", msg, err)
	}
	if r.Pod != "lt-worker-0" || r.RunID != p.RunID || r.Worker.Scheduled != 100 || r.Worker.Acked != 100 {
		t.Errorf("report = %s; want 100 records acknowledged by lt-worker-0", msg)
	}
}

func TestWorkerCommandWithoutTokenFile(t *testing.T) {
	t.Setenv(plan.EnvPlan, `{"role":"worker","runID":"r","workers":1,"kafka":{"bootstrapServers":["k:1"]}}`)
	dir := t.TempDir()
	termLog := filepath.Join(dir, "termination-log")
	missing := filepath.Join(dir, "control", "token")
	err := runWorker([]string{"--termination-log", termLog, "--control-token-file", missing})
	msg, _ := os.ReadFile(termLog)
	if err == nil || !strings.Contains(string(msg), "reading the control token") || !strings.Contains(string(msg), missing) {
		t.Errorf("runWorker = %v, message %q; want an error naming the token file in both", err, msg)
	}
}

func TestWorkerCommandBadPlan(t *testing.T) {
	t.Setenv(plan.EnvPlan, `{"role":"observer","runID":"r","workers":1,"kafka":{"bootstrapServers":["k:1"]}}`)
	termLog := filepath.Join(t.TempDir(), "termination-log")
	err := runWorker([]string{"--termination-log", termLog})
	msg, _ := os.ReadFile(termLog)
	if err == nil || !strings.Contains(string(msg), `the plan is for role "observer"`) {
		t.Errorf("runWorker = %v, message %q; want a role error in both", err, msg)
	}
}

// boundAddr waits for the address a pod runner's port is bound to, or for the command to end.
func boundAddr(t *testing.T, addr <-chan net.Addr, done <-chan error) net.Addr {
	t.Helper()
	select {
	case a := <-addr:
		return a
	case err := <-done:
		t.Fatalf("the command ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not listen within 10s")
	}
	return nil
}

// writeFiles writes name → content files into a new folder, as a Secret volume holds them.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o440); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The sample URL and its headers come from mounted files; the headers go to the URL's
// host only, not to a host it redirects to.
func TestSampleSourceFromSecretFiles(t *testing.T) {
	const secret = "Bearer s3cret-sample-token"
	var elsewhere, atOrigin []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere = append(elsewhere, r.Header.Get("Authorization"))
		_, _ = io.WriteString(w, `{"key":"a","value":1}`+"\n")
	}))
	defer other.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atOrigin = append(atOrigin, r.Header.Get("Authorization")+"|"+r.Header.Get("X-Tenant"))
		http.Redirect(w, r, other.URL+"/moved", http.StatusFound)
	}))
	defer origin.Close()

	urlDir := writeFiles(t, map[string]string{"url": origin.URL + "/samples.jsonl?sig=abc\n"})
	headersDir := writeFiles(t, map[string]string{"Authorization": secret + "\n", "x-tenant": "crm", "..data": "ignored"})
	s := plan.Samples{URLFile: filepath.Join(urlDir, "url"), HeadersDir: headersDir}
	client, err := sampleSource(&s)
	if err != nil {
		t.Fatal(err)
	}
	if s.URL != origin.URL+"/samples.jsonl?sig=abc" {
		t.Errorf("URL = %q, want the file's content without its newline", s.URL)
	}
	resp, err := client.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if len(atOrigin) != 1 || atOrigin[0] != secret+"|crm" {
		t.Errorf("the sample URL's host got headers %q, want the Secret's", atOrigin)
	}
	if len(elsewhere) != 1 || elsewhere[0] != "" {
		t.Errorf("the host redirected to got Authorization %q, want none", elsewhere)
	}

	// Without a URL file the plan's URL stays, and without headers the default client.
	plain := plan.Samples{URL: "https://samples.example.com/x.jsonl"}
	if c, err := sampleSource(&plain); err != nil || c != nil || plain.URL != "https://samples.example.com/x.jsonl" {
		t.Errorf("sampleSource of a plain URL = %v, %v, URL %q", c, err, plain.URL)
	}
}

func TestSampleSourceErrorsShowNoSecret(t *testing.T) {
	const token = "s3cret-value"
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		samples plan.Samples
		want    string
	}{
		{"missing URL file", plan.Samples{URLFile: filepath.Join(dir, "nope", "url")}, "reading the sample URL"},
		{"empty URL file", plan.Samples{URLFile: filepath.Join(writeFiles(t, map[string]string{"url": "\n"}), "url")}, "is empty"},
		{"bad header name", plan.Samples{URL: "https://h/x", HeadersDir: writeFiles(t, map[string]string{"Bad Header": token})}, `sample header "Bad Header"`},
		{"header value with a line break", plan.Samples{URL: "https://h/x", HeadersDir: writeFiles(t, map[string]string{"Authorization": token + "\nX-Injected: 1"})}, "line break"},
		{"no headers", plan.Samples{URL: "https://h/x", HeadersDir: writeFiles(t, map[string]string{})}, "holds no header"},
		{"URL without host", plan.Samples{URLFile: filepath.Join(writeFiles(t, map[string]string{"url": "not a url " + token}), "url"), HeadersDir: writeFiles(t, map[string]string{"A": token})}, "not a valid http(s) URL"},
	} {
		_, err := sampleSource(&tc.samples)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), token) {
			t.Errorf("%s: error %v, want one saying %q without the secret", tc.name, err, tc.want)
		}
	}
}

// TestPodCommandsHelp: for every sub-command, -h and --help print the usage and succeed (exit 0); an unknown flag
// is still an error.
func TestPodCommandsHelp(t *testing.T) {
	for name, run := range map[string]func([]string) error{"manager": runManager, "worker": runWorker, "observer": runObserver} {
		for _, arg := range []string{"-h", "--help"} {
			if err := run([]string{arg}); err != nil {
				t.Errorf("%s %s = %v, want nil", name, arg, err)
			}
		}
		if err := run([]string{"--no-such-flag"}); err == nil {
			t.Errorf("%s --no-such-flag succeeded", name)
		}
	}
}
