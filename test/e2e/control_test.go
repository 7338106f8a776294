package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/sandbox"
)

// TestForgedControlCallsAreRefused plays someone who can reach the run's pods but is not
// the operator: from the moment a pod has an address until the run ends, POSTs to its
// control port without the run's token, with a guessed one, with another run's token or
// with the run id are refused with a bare 401. The metrics port serves a Prometheus
// scrape and refuses POST. The run, started and ended by the operator, still passes in
// full (a forged /start that stuck would make the operator's own /start fail, a forged
// /stop would abort it).
func TestForgedControlCallsAreRefused(t *testing.T) {
	const name = "crm-cdc-guarded"
	applySamples(t)
	mustKubectl(t, "apply", "--server-side", "-f", passingDemo(t, name))
	runID := jsonpath(t, name, "{.metadata.uid}")
	key := controlKey(t)
	otherRun := key.Token("00000000-0000-0000-0000-000000000000")
	pod := name + "-worker-0"

	ip := waitPodIP(t, pod)
	controlURL := "http://" + net.JoinHostPort(ip, strconv.Itoa(plan.ControlPort))
	metricsURL := "http://" + net.JoinHostPort(ip, strconv.Itoa(plan.MetricsPort))
	forge := func(when string) int {
		t.Helper()
		n := 0
		for _, bearer := range []string{"", "guess", otherRun, runID} {
			for path, body := range map[string]any{
				control.PathStart: control.StartRequest{RunID: runID, StartTime: time.Now().Add(-time.Minute)},
				control.PathStop:  control.StopRequest{RunID: runID},
			} {
				code, reply, err := httpCall(http.MethodPost, controlURL+path, bearer, body)
				if err != nil {
					continue // the pod is not listening yet, or has ended
				}
				n++
				if code != http.StatusUnauthorized || reply != "unauthorized\n" {
					t.Errorf("%s: POST %s with bearer %q: %d %q, want a bare 401", when, path, redactToken(bearer, runID), code, reply)
				}
			}
		}
		return n
	}

	var sent int
	phase := ""
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 4*time.Minute, true, func(context.Context) (bool, error) {
		sent += forge("before the start (" + phase + ")")
		phase = jsonpath(t, name, "{.status.phase}")
		return phase == "Running", nil
	}); err != nil {
		t.Fatalf("LoadTest %s not Running after 4m: phase %q", name, phase)
	}
	sent += forge("while running")
	code, reply, err := httpCall(http.MethodPost, metricsURL+control.PathStop, key.Token(runID), control.StopRequest{RunID: runID})
	if err != nil || code != http.StatusMethodNotAllowed {
		t.Errorf("POST /stop on the metrics port, with the run's token: %d %q %v, want 405", code, reply, err)
	}
	code, metrics, err := httpCall(http.MethodGet, metricsURL+control.PathMetrics, "", nil)
	if err != nil || code != http.StatusOK || !strings.Contains(metrics, "streamreplay_worker_records_sent_total") ||
		!strings.Contains(metrics, "streamreplay_control_refused_total") {
		t.Errorf("GET /metrics on the metrics port: %d %v, want the worker's metrics and the refused calls", code, err)
	}
	if sent == 0 {
		t.Fatal("no forged call reached the pod: the test proved nothing")
	}
	t.Logf("%d forged calls refused", sent)

	waitPhase(t, name, "Passed")
	doc := resultsDocument(t, name)
	for _, w := range doc.Workers {
		if w.Stopped {
			t.Errorf("worker %d reports a stopped run: a forged /stop reached it", w.Index)
		}
	}
	if got := jsonpath(t, name, `{.status.conditions[?(@.type=="Stopping")].status}`); got == "True" {
		t.Errorf("the LoadTest has Stopping=True: a forged /stop changed the run")
	}
}

// controlKey is the operator's key, as an administrator of the sandbox can read it.
func controlKey(t *testing.T) control.Key {
	t.Helper()
	raw := mustKubectl(t, "get", "secret", "--namespace", sandbox.ControlKeySecret.Namespace, sandbox.ControlKeySecret.Name, "-o", "json")
	var s corev1.Secret
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	key := control.Key(s.Data["key"])
	if err := key.Validate(); err != nil {
		t.Fatalf("Secret %s: %v", sandbox.ControlKeySecret, err)
	}
	return key
}

// waitPodIP waits until the pod has an address.
func waitPodIP(t *testing.T, pod string) string {
	t.Helper()
	var ip string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		out, _ := kubectl(t, "get", "pod", pod, "-o", "jsonpath={.status.podIP}")
		ip = strings.TrimSpace(out)
		return ip != "" && !strings.Contains(ip, "NotFound"), nil
	})
	if err != nil {
		t.Fatalf("pod %s has no address after a minute", pod)
	}
	return ip
}

// httpCall makes one call with an optional bearer token and JSON body.
func httpCall(method, url, bearer string, body any) (int, string, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, "", err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// redactToken names a bearer value in messages without showing a token.
func redactToken(bearer, runID string) string {
	switch bearer {
	case "", "guess":
		return bearer
	case runID:
		return "the run id"
	}
	return fmt.Sprintf("a token of %d characters", len(bearer))
}
