// Command fakepod stands in for `streamreplay worker` in the pod runner's tests. It takes
// the same --control-address, --metrics-address and --termination-log flags, anywhere
// among its arguments (the others are ignored), and is steered by its environment and
// over HTTP. It serves the same handlers on both addresses.
//
// Environment:
//
//	FAKEPOD_READ        a file read before listening; when missing, exit 2 with a message
//	FAKEPOD_WAIT_READY  "1": /readyz answers 503 until POST /ready
//	FAKEPOD_EXIT_AFTER  a duration after which it exits by itself with FAKEPOD_EXIT_CODE
//	                    (default 0), writing FAKEPOD_MESSAGE to the termination log
//	FAKEPOD_IGNORE_TERM "1": SIGTERM is ignored
//	FAKEPOD_SAY         printed to stderr at the start
//	FAKEPOD_FILES       comma-separated files that GET /info reports (content and mode)
//
// HTTP on the control address: GET /readyz, GET /healthz, GET /info (arguments,
// environment, working folder, FAKEPOD_FILES), POST /ready, POST /exit?code=N&message=M.
// SIGTERM writes "stopped by SIGTERM" to the termination log and exits 0.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type fileInfo struct {
	Content []byte `json:"content"`
	Mode    string `json:"mode"`
	Error   string `json:"error,omitempty"`
}

type info struct {
	Args  []string            `json:"args"`
	Env   []string            `json:"env"`
	Dir   string              `json:"dir"`
	Files map[string]fileInfo `json:"files"`
}

func main() {
	addr, metricsAddr, termLog := ":9400", "", "/dev/termination-log"
	for _, a := range os.Args[1:] {
		if v, ok := strings.CutPrefix(a, "--control-address="); ok {
			addr = v
		}
		if v, ok := strings.CutPrefix(a, "--metrics-address="); ok {
			metricsAddr = v
		}
		if v, ok := strings.CutPrefix(a, "--termination-log="); ok {
			termLog = v
		}
	}
	exit := func(code int, message string) {
		if message != "" {
			if err := os.WriteFile(termLog, []byte(message), 0o600); err != nil {
				fmt.Fprintln(os.Stderr, "fakepod: writing the termination log:", err)
			}
		}
		os.Exit(code)
	}
	if say := os.Getenv("FAKEPOD_SAY"); say != "" {
		fmt.Fprintln(os.Stderr, say)
	}
	if f := os.Getenv("FAKEPOD_READ"); f != "" {
		if _, err := os.ReadFile(f); err != nil {
			exit(2, "fakepod: "+err.Error())
		}
	}

	signals := make(chan os.Signal, 1)
	if os.Getenv("FAKEPOD_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(signals, syscall.SIGTERM)
	}
	go func() {
		<-signals
		fmt.Fprintln(os.Stderr, "fakepod: SIGTERM")
		exit(0, "stopped by SIGTERM")
	}()
	if after := os.Getenv("FAKEPOD_EXIT_AFTER"); after != "" {
		d, err := time.ParseDuration(after)
		if err != nil {
			exit(2, "fakepod: FAKEPOD_EXIT_AFTER: "+err.Error())
		}
		code, _ := strconv.Atoi(os.Getenv("FAKEPOD_EXIT_CODE"))
		time.AfterFunc(d, func() { exit(code, os.Getenv("FAKEPOD_MESSAGE")) })
	}

	var ready atomic.Bool
	ready.Store(os.Getenv("FAKEPOD_WAIT_READY") != "1")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /ready", func(http.ResponseWriter, *http.Request) { ready.Store(true) })
	mux.HandleFunc("POST /exit", func(_ http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		message := r.URL.Query().Get("message")
		time.AfterFunc(50*time.Millisecond, func() { exit(code, message) })
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, _ *http.Request) {
		dir, _ := os.Getwd()
		out := info{Args: os.Args[1:], Env: os.Environ(), Dir: dir, Files: map[string]fileInfo{}}
		for _, f := range strings.Split(os.Getenv("FAKEPOD_FILES"), ",") {
			if f == "" {
				continue
			}
			var fi fileInfo
			if st, err := os.Stat(f); err != nil {
				fi.Error = err.Error()
			} else {
				fi.Mode = fmt.Sprintf("%#o", st.Mode().Perm())
				if fi.Content, err = os.ReadFile(f); err != nil {
					fi.Error = err.Error()
				}
			}
			out.Files[f] = fi
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		exit(3, "fakepod: "+err.Error())
	}
	fmt.Fprintln(os.Stderr, "fakepod: listening on", l.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if metricsAddr != "" {
		ml, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			exit(3, "fakepod: "+err.Error())
		}
		go func() { _ = srv.Serve(ml) }()
	}
	if err := srv.Serve(l); err != nil {
		exit(3, "fakepod: "+err.Error())
	}
}
