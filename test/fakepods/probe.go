package fakepods

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/streamreplay/streamreplay/internal/control"
)

// ProbeModel answers the figures of a probe a fake pod at ip was asked; the operator
// reads the worker figures from workers and the observer figures from the observer, so
// a model may fill in both.
type ProbeModel func(ip string, req control.ProbeRequest) control.ProbeResult

// probeState is what the fake pods know of a Capacity search.
type probeState struct {
	model  ProbeModel
	probes map[string][]control.ProbeRequest // by address
}

// SetProbeModel makes the fake pods answer POST /probe and GET /probe/<n>, with the
// figures of model. Like a pod, they accept a probe again with the same values and
// refuse one out of order (409).
func (s *ControlServer) SetProbeModel(model ProbeModel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probe.model = model
}

// ProbeCalls are the probes ip accepted, in order.
func (s *ControlServer) ProbeCalls(ip string) []control.ProbeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]control.ProbeRequest(nil), s.probe.probes[ip]...)
}

func (s *ControlServer) probeRoutes(mux *http.ServeMux) {
	s.probe.probes = map[string][]control.ProbeRequest{}
	mux.HandleFunc("POST "+control.PathProbe, func(w http.ResponseWriter, r *http.Request) {
		var req control.ProbeRequest
		ip, ok := decode(w, r, &req)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.key != nil && !control.Authorized(r, s.key.Token(req.RunID)) {
			s.refused++
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		asked := s.probe.probes[ip]
		switch {
		case s.probe.model == nil:
			http.Error(w, "no probe model", http.StatusNotFound)
		case req.Probe < len(asked) && asked[req.Probe].Same(req):
		case req.Probe != len(asked):
			http.Error(w, "probe out of order", http.StatusConflict)
		default:
			s.probe.probes[ip] = append(asked, req)
		}
	})
	mux.HandleFunc("GET "+control.PathProbe+"/{n}", func(w http.ResponseWriter, r *http.Request) {
		ip, ok := localIP(w, r)
		if !ok {
			return
		}
		runID := r.URL.Query().Get("runID")
		s.mu.Lock()
		if s.key != nil && !control.Authorized(r, s.key.Token(runID)) {
			s.refused++
			s.mu.Unlock()
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(r.PathValue("n")))
		asked := s.probe.probes[ip]
		model := s.probe.model
		s.mu.Unlock()
		if err != nil || n < 0 || n >= len(asked) || model == nil {
			http.Error(w, "no such probe", http.StatusNotFound)
			return
		}
		res := model(ip, asked[n])
		res.Probe = n
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
}
