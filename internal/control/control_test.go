package control

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, h http.HandlerFunc) (string, int32) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	host, port, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, int32(p)
}

func TestStartPostsRunAndTime(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	var got StartRequest
	var method, path string
	ip, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		method, path = r.Method, r.URL.Path
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("decoding body: %v", err)
		}
	})
	if err := NewClient(time.Second).Start(context.Background(), ip, port, StartRequest{RunID: "run-1", StartTime: at}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if method != http.MethodPost || path != PathStart {
		t.Errorf("request %s %s, want POST %s", method, path, PathStart)
	}
	if got.RunID != "run-1" || !got.StartTime.Equal(at) {
		t.Errorf("body %+v, want run-1 at %s (nanoseconds kept)", got, at)
	}
}

func TestErrorsSayWhatWentWrong(t *testing.T) {
	ip, port := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "run id other-run is not this pod's run", http.StatusConflict)
	})
	c := NewClient(time.Second)
	err := c.Stop(context.Background(), ip, port, StopRequest{RunID: "other-run"})
	if err == nil || !strings.Contains(err.Error(), "409 Conflict") || !strings.Contains(err.Error(), "is not this pod's run") || !strings.Contains(err.Error(), PathStop) {
		t.Errorf("error = %v, want the path, the status and the pod's reason", err)
	}
	if err := c.Start(context.Background(), "", port, StartRequest{}); err == nil || !strings.Contains(err.Error(), "no IP address") {
		t.Errorf("error without IP = %v", err)
	}
}

func TestUnreachablePodTimesOut(t *testing.T) {
	// A listener that never accepts: the call must end at the client's timeout, not hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	addr := ln.Addr().(*net.TCPAddr)
	c := NewClient(200 * time.Millisecond)
	begin := time.Now()
	err = c.Start(context.Background(), addr.IP.String(), int32(addr.Port), StartRequest{RunID: "r"})
	if err == nil {
		t.Fatal("Start to a pod that never answers succeeded")
	}
	if elapsed := time.Since(begin); elapsed > 5*time.Second {
		t.Errorf("Start took %s with a 200ms timeout", elapsed)
	}
}
