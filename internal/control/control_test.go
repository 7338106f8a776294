package control

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	var method, path, auth string
	ip, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		method, path, auth = r.Method, r.URL.Path, r.Header.Get("Authorization")
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("decoding body: %v", err)
		}
	})
	if err := NewClient(time.Second).Start(context.Background(), ip, port, "tok", StartRequest{RunID: "run-1", StartTime: at}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if auth != "Bearer tok" {
		t.Errorf("Authorization %q, want the bearer token", auth)
	}
	if method != http.MethodPost || path != PathStart {
		t.Errorf("request %s %s, want POST %s", method, path, PathStart)
	}
	if got.RunID != "run-1" || !got.StartTime.Equal(at) {
		t.Errorf("body %+v, want run-1 at %s (nanoseconds kept)", got, at)
	}
}

func TestErrorsSayWhatWentWrong(t *testing.T) {
	ip, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if !Authorized(r, "tok") {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.Error(w, "the run id does not match this pod's run", http.StatusConflict)
	})
	c := NewClient(time.Second)
	err := c.Stop(context.Background(), ip, port, "tok", StopRequest{RunID: "other-run"})
	if err == nil || !strings.Contains(err.Error(), "409 Conflict") || !strings.Contains(err.Error(), "does not match this pod's run") || !strings.Contains(err.Error(), PathStop) {
		t.Errorf("error = %v, want the path, the status and the pod's reason", err)
	}
	err = c.Stop(context.Background(), ip, port, "wrong", StopRequest{RunID: "other-run"})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "token file") {
		t.Errorf("error with a wrong token = %v, want ErrRefused saying so", err)
	}
	if err := c.Start(context.Background(), "", port, "tok", StartRequest{}); err == nil || !strings.Contains(err.Error(), "no IP address") {
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
	err = c.Start(context.Background(), addr.IP.String(), int32(addr.Port), "tok", StartRequest{RunID: "r"})
	if err == nil {
		t.Fatal("Start to a pod that never answers succeeded")
	}
	if elapsed := time.Since(begin); elapsed > 5*time.Second {
		t.Errorf("Start took %s with a 200ms timeout", elapsed)
	}
}

func TestTokenIsAnHMACOfTheRunID(t *testing.T) {
	key := Key(bytesOf(KeySize, 1))
	otherKey := Key(bytesOf(KeySize, 2))
	tok := key.Token("uid-1")
	// Fixed: a token the operator computes after a restart, with the same key, is the same.
	if tok != key.Token("uid-1") || len(tok) != 43 {
		t.Fatalf("Token = %q (%d characters), want 43 characters, stable", tok, len(tok))
	}
	for what, got := range map[string]string{
		"another run":  key.Token("uid-2"),
		"another key":  otherKey.Token("uid-1"),
		"the run id":   "uid-1",
		"a prefix run": key.Token("uid-"),
	} {
		if got == tok {
			t.Errorf("the token of %s equals the run's", what)
		}
	}
	if strings.Contains(tok, "uid-1") {
		t.Errorf("the token %q shows the run id", tok)
	}
}

func TestKeyValidate(t *testing.T) {
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Validate(); err != nil || len(k) != KeySize {
		t.Errorf("NewKey: %d bytes, Validate = %v", len(k), err)
	}
	if k2, _ := NewKey(); string(k2) == string(k) {
		t.Error("two new keys are equal")
	}
	if err := Key(bytesOf(16, 1)).Validate(); err == nil || !strings.Contains(err.Error(), "16 bytes") {
		t.Errorf("Validate of a 16-byte key = %v, want an error naming its size", err)
	}
}

func TestAuthorized(t *testing.T) {
	const token = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	for _, tc := range []struct {
		name, header, token string
		want                bool
	}{
		{"the token", "Bearer " + token, token, true},
		{"no header", "", token, false},
		{"another token", "Bearer " + token[:42] + "H", token, false},
		{"a prefix", "Bearer " + token[:42], token, false},
		{"longer", "Bearer " + token + "x", token, false},
		{"another scheme", "Basic " + token, token, false},
		{"bare token", token, token, false},
		{"lower-case scheme", "bearer " + token, token, false},
		{"no expected token", "Bearer ", "", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/stop", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if got := Authorized(r, tc.token); got != tc.want {
			t.Errorf("%s: Authorized = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("s3cret-token\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadTokenFile(file); err != nil || got != "s3cret-token" {
		t.Errorf("ReadTokenFile = %q, %v", got, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o440); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(empty); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("ReadTokenFile of an empty file = %v", err)
	}
	if _, err := ReadTokenFile(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("ReadTokenFile of a missing file = %v, want its name", err)
	}
	unreadable := filepath.Join(dir, "unreadable")
	if err := os.WriteFile(unreadable, []byte("s3cret-token"), 0o000); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 0 {
		if _, err := ReadTokenFile(unreadable); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ReadTokenFile of an unreadable file = %v", err)
		}
	}
}

func bytesOf(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b + byte(i)
	}
	return out
}
