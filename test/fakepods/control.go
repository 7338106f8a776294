package fakepods

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
)

// Loopback ranges, one per suite: go test runs the packages of ./... at the same time,
// and two fake pods must never listen on the same address. Linux routes all of 127/8 to
// lo without any setup.
const (
	ControllersAddresses = "127.0"  // controllers: 127.0.1.x, clear of 127.0.0.1
	ConfigAddresses      = "127.88" // test/config
	ScaleAddresses       = "127.77" // test/scale
	ScaleSilentAddresses = "127.78" // test/scale, the pods that never answer
)

// AddressPool hands out loopback addresses, a new one on each call, so that every fake
// pod has its own and the operator reaches it on the real control port, as in a cluster.
// It is safe for concurrent use.
type AddressPool struct {
	prefix string
	n      atomic.Int32
}

// NewAddressPool hands out prefix.1.2, prefix.1.3, … where prefix is the first two
// octets, one of the ranges above.
func NewAddressPool(prefix string) *AddressPool {
	return &AddressPool{prefix: prefix}
}

// Next is an address not handed out before.
func (p *AddressPool) Next() string {
	n := p.n.Add(1)
	if n >= 250*254 {
		panic("fakepods: the address pool " + p.prefix + " is exhausted")
	}
	return fmt.Sprintf("%s.%d.%d", p.prefix, 1+n/250, 1+n%250)
}

// ControlServer plays the control port of fake pods: it listens on plan.ControlPort of
// each address given to Serve, answers POST /start and /stop, and records the calls
// each address received. With a key, it refuses (401) and does not record a call that
// does not carry the token of the run it names, as a pod does. It is safe for
// concurrent use.
type ControlServer struct {
	srv *http.Server
	key control.Key

	mu      sync.Mutex
	starts  map[string][]control.StartRequest // by address
	stops   map[string][]control.StopRequest  // by address
	probe   probeState                        // probe.go
	status  map[string]control.Status         // GET /status answers, by address (status.go)
	reads   map[string]int                    // GET /status calls answered, by address
	refused int
}

// NewControlServer gives a ControlServer that listens nowhere yet; Close it when done.
// key is the operator's control key; nil accepts calls without checking their token.
func NewControlServer(key control.Key) *ControlServer {
	s := &ControlServer{key: key, starts: map[string][]control.StartRequest{}, stops: map[string][]control.StopRequest{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+control.PathStart, record(s, s.starts, func(r control.StartRequest) string { return r.RunID }))
	mux.HandleFunc("POST "+control.PathStop, record(s, s.stops, func(r control.StopRequest) string { return r.RunID }))
	s.probeRoutes(mux)
	mux.HandleFunc("GET "+control.PathStatus, s.serveStatus)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// record answers a control call whose body is a Req and adds it to the calls of the
// address it was sent to.
func record[Req any](s *ControlServer, calls map[string][]Req, runID func(Req) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		ip, ok := decode(w, r, &req)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.key != nil && !control.Authorized(r, s.key.Token(runID(req))) {
			s.refused++
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		calls[ip] = append(calls[ip], req)
	}
}

// Refused is how many calls did not carry their run's token.
func (s *ControlServer) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// decode reads a control call's body into req and tells which address it was sent to;
// on failure it has answered the call with an error.
func decode(w http.ResponseWriter, r *http.Request, req any) (ip string, ok bool) {
	if err := json.NewDecoder(r.Body).Decode(req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return "", false
	}
	return localIP(w, r)
}

// localIP tells which address a call was sent to; on failure it has answered the call.
func localIP(w http.ResponseWriter, r *http.Request) (ip string, ok bool) {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if addr == nil {
		http.Error(w, "no local address", http.StatusInternalServerError)
		return "", false
	}
	ip, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return "", false
	}
	return ip, true
}

// Serve starts answering control calls sent to ip.
func (s *ControlServer) Serve(ip string) error {
	addr := net.JoinHostPort(ip, strconv.Itoa(plan.ControlPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// StartCalls are the /start calls ip received, oldest first.
func (s *ControlServer) StartCalls(ip string) []control.StartRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]control.StartRequest(nil), s.starts[ip]...)
}

// StopCalls are the /stop calls ip received, oldest first.
func (s *ControlServer) StopCalls(ip string) []control.StopRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]control.StopRequest(nil), s.stops[ip]...)
}

// Close stops listening on every address.
func (s *ControlServer) Close() error {
	return s.srv.Close()
}
