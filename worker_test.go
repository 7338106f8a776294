package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
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
		Role: plan.RoleWorker, RunID: "uid-42", LoadTest: "ns/lt", Index: 0, Workers: 1,
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

	port := freePort(t)
	termLog := filepath.Join(dir, "termination-log")
	done := make(chan error, 1)
	go func() {
		done <- runWorker([]string{"--control-address", "127.0.0.1:" + strconv.Itoa(port), "--termination-log", termLog})
	}()

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get(base + control.PathReady)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK, nil // not yet listening: poll again
	}); err != nil {
		t.Fatal("the worker never became Ready")
	}
	err = control.NewClient(2*time.Second).Start(context.Background(), "127.0.0.1", int32(port), control.StartRequest{RunID: p.RunID, StartTime: time.Now()})
	if err != nil {
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

func TestWorkerCommandBadPlan(t *testing.T) {
	t.Setenv(plan.EnvPlan, `{"role":"observer","runID":"r","workers":1,"kafka":{"bootstrapServers":["k:1"]}}`)
	termLog := filepath.Join(t.TempDir(), "termination-log")
	err := runWorker([]string{"--termination-log", termLog})
	msg, _ := os.ReadFile(termLog)
	if err == nil || !strings.Contains(string(msg), `the plan is for role "observer"`) {
		t.Errorf("runWorker = %v, message %q; want a role error in both", err, msg)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lis.Close() }()
	return lis.Addr().(*net.TCPAddr).Port
}

// TestPodCommandsHelp: -h and --help print the usage and succeed (exit 0); an unknown flag
// is still an error.
func TestPodCommandsHelp(t *testing.T) {
	for name, run := range map[string]func([]string) error{"worker": runWorker, "observer": runObserver} {
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
