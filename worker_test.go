package main

import (
	"context"
	"errors"
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

	port, metricsPort := freePort(t), freePort(t)
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
	done := make(chan error, 1)
	go func() {
		done <- runWorker([]string{"--control-address", "127.0.0.1:" + strconv.Itoa(port), "--metrics-address", "127.0.0.1:" + strconv.Itoa(metricsPort),
			"--control-token-file", tokenFile, "--termination-log", termLog})
	}()

	base := "http://127.0.0.1:" + strconv.Itoa(metricsPort)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + control.PathReady)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker never became Ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c2 := control.NewClient(2 * time.Second)
	err = c2.Start(context.Background(), "127.0.0.1", int32(port), key.Token("another-run"), control.StartRequest{RunID: p.RunID, StartTime: time.Now()})
	if !errors.Is(err, control.ErrRefused) {
		t.Fatalf("/start with another run's token = %v, want it refused", err)
	}
	err = c2.Start(context.Background(), "127.0.0.1", int32(port), token, control.StartRequest{RunID: p.RunID, StartTime: time.Now()})
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

func freePort(t *testing.T) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lis.Close() }()
	return lis.Addr().(*net.TCPAddr).Port
}
