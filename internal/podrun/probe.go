package podrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/streamreplay/streamreplay/internal/capacity"
	"github.com/streamreplay/streamreplay/internal/control"
)

// Prober is a Runner that runs the probes of a Capacity search: POST /probe and
// GET /probe/<n> reach it, authenticated like /start.
type Prober interface {
	// StartProbe accepts a probe; the same request again is fine. It returns an error
	// wrapping ErrProbeConflict for a lower index than one already accepted, or the same
	// index with other values.
	StartProbe(req control.ProbeRequest) error
	// ProbeResult gives probe n's figures so far; false when the probe was never asked.
	ProbeResult(n int) (*control.ProbeResult, bool)
}

// ErrProbeConflict is wrapped by StartProbe's error for a request that contradicts an
// earlier one.
var ErrProbeConflict = errors.New("probe conflict")

// ProbeOrder is the rule of StartProbe: after asked probes (asked(i) gives probe i's
// request), req is a repeat of probe req.Probe with the same values (repeat: nothing to
// do), the next one (accept it), or a conflict (an error wrapping ErrProbeConflict).
func ProbeOrder(req control.ProbeRequest, n int, asked func(i int) control.ProbeRequest) (repeat bool, err error) {
	switch {
	case req.Probe < n && asked(req.Probe).Same(req):
		return true, nil
	case req.Probe < n:
		return false, fmt.Errorf("%w: probe %d was asked with other values", ErrProbeConflict, req.Probe)
	case req.Probe > n:
		return false, fmt.Errorf("%w: probe %d asked before probe %d", ErrProbeConflict, req.Probe, n)
	case n >= capacity.MaxProbes:
		return false, fmt.Errorf("%w: a search has at most %d probes", ErrProbeConflict, capacity.MaxProbes)
	}
	return false, nil
}

// handleProbe serves POST /probe.
func (p *pod) handleProbe(w http.ResponseWriter, r *http.Request) {
	prober, ok := p.runner.(Prober)
	if !ok {
		control.Reply(w, http.StatusNotFound, "this pod runs no capacity search")
		return
	}
	var req control.ProbeRequest
	if !control.DecodeRequest(w, r, &req) || !control.SameRun(w, req.RunID, p.opts.RunID) {
		return
	}
	if err := req.Validate(); err != nil {
		control.Reply(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := prober.StartProbe(req); err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrProbeConflict) {
			code = http.StatusConflict
		}
		control.Reply(w, code, err.Error())
		return
	}
	control.Reply(w, http.StatusOK, "probe "+strconv.Itoa(req.Probe)+" accepted")
}

// handleProbeResult serves GET /probe/<n>?runID=...
func (p *pod) handleProbeResult(w http.ResponseWriter, r *http.Request) {
	prober, ok := p.runner.(Prober)
	if !ok {
		control.Reply(w, http.StatusNotFound, "this pod runs no capacity search")
		return
	}
	if !control.AllowMethod(w, r, http.MethodGet) || !control.SameRun(w, r.URL.Query().Get(control.QueryRunID), p.opts.RunID) {
		return
	}
	n, ok := control.ProbeIndex(r.URL.Path)
	if !ok {
		control.Reply(w, http.StatusBadRequest, "want /probe/<index>")
		return
	}
	res, ok := prober.ProbeResult(n)
	if !ok {
		control.Reply(w, http.StatusNotFound, "no probe "+strconv.Itoa(n))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}
