package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamreplay/streamreplay/internal/earlystop"
)

func TestStatusGetsAndDecodes(t *testing.T) {
	dlq := int64(4)
	want := Status{RunID: "run-1", Phase: "running", Observer: &ObserverStatus{DeadLetters: &dlq,
		Breach: &earlystop.Breach{Threshold: "maxConsumerLag", At: 16 * time.Second, Message: "stopped early at +16s on maxConsumerLag"}}}
	var method, path string
	ip, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		method, path = r.Method, r.URL.Path
		if !Authorized(r, "tok") {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(want)
	})
	c := NewClient(time.Second)
	got, err := c.Status(context.Background(), ip, port, "tok")
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if method != http.MethodGet || path != PathStatus {
		t.Errorf("request %s %s, want GET %s", method, path, PathStatus)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if _, err := c.Status(context.Background(), ip, port, "wrong"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "GET") {
		t.Errorf("Status with a wrong token = %v, want ErrRefused naming the call", err)
	}
	if _, err := c.Status(context.Background(), "", port, "tok"); err == nil || !strings.Contains(err.Error(), "no IP address") {
		t.Errorf("Status without IP = %v", err)
	}
}

func TestStatusRefusesABadAnswer(t *testing.T) {
	ip, port := serve(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) })
	if _, err := NewClient(time.Second).Status(context.Background(), ip, port, "tok"); err == nil || !strings.Contains(err.Error(), "decoding") {
		t.Errorf("Status of a non-JSON answer = %v, want a decoding error", err)
	}
}
