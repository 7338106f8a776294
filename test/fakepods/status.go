package fakepods

import (
	"encoding/json"
	"net"
	"net/http"

	"github.com/streamreplay/streamreplay/internal/control"
)

// SetStatus makes the fake pod at ip answer GET /status with st (its RunID names the run
// whose token the call must carry). Until then the pod answers 404, as an older pod would.
func (s *ControlServer) SetStatus(ip string, st control.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status == nil {
		s.status = map[string]control.Status{}
	}
	s.status[ip] = st
}

func (s *ControlServer) serveStatus(w http.ResponseWriter, r *http.Request) {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	ip := ""
	if addr != nil {
		ip, _, _ = net.SplitHostPort(addr.String())
	}
	s.mu.Lock()
	st, ok := s.status[ip]
	refused := ok && s.key != nil && !control.Authorized(r, s.key.Token(st.RunID))
	if refused {
		s.refused++
	}
	s.mu.Unlock()
	switch {
	case !ok:
		http.NotFound(w, r)
	case refused:
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	default:
		s.mu.Lock()
		if s.reads == nil {
			s.reads = map[string]int{}
		}
		s.reads[ip]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	}
}

// StatusReads is how many GET /status calls ip answered with its status.
func (s *ControlServer) StatusReads(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[ip]
}
