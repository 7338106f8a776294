package podrun

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

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

// handleProbe serves POST /probe.
func (p *pod) handleProbe(w http.ResponseWriter, r *http.Request) {
	prober, ok := p.runner.(Prober)
	if !ok {
		writeText(w, http.StatusNotFound, "this pod runs no capacity search")
		return
	}
	var req control.ProbeRequest
	if !decode(w, r, &req) {
		return
	}
	if !p.checkRun(w, req.RunID) {
		return
	}
	if err := req.Validate(); err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := prober.StartProbe(req); err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrProbeConflict) {
			code = http.StatusConflict
		}
		writeText(w, code, err.Error())
		return
	}
	writeText(w, http.StatusOK, "probe "+strconv.Itoa(req.Probe)+" accepted")
}

// handleProbeResult serves GET /probe/<n>?runID=....
func (p *pod) handleProbeResult(w http.ResponseWriter, r *http.Request) {
	prober, ok := p.runner.(Prober)
	if !ok {
		writeText(w, http.StatusNotFound, "this pod runs no capacity search")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeText(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	if !p.checkRun(w, r.URL.Query().Get("runID")) {
		return
	}
	n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, control.PathProbe+"/"))
	if err != nil || n < 0 {
		writeText(w, http.StatusBadRequest, "want /probe/<index>")
		return
	}
	res, ok := prober.ProbeResult(n)
	if !ok {
		writeText(w, http.StatusNotFound, "no probe "+strconv.Itoa(n))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}
