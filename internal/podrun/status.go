package podrun

import (
	"encoding/json"
	"net/http"

	"github.com/streamreplay/streamreplay/internal/control"
)

func (ph phase) String() string {
	return [...]string{"preparing", "ready", "running", "done"}[ph]
}

// StatusReporter is a Runner that tells its live counts on GET /status (control.Status's
// Worker or Observer); podrun adds the run id and the pod's phase. Status is called from
// the control port's goroutines at any time, before Prepare too.
type StatusReporter interface {
	Status() control.Status
}

func (p *pod) handleStatus(w http.ResponseWriter, r *http.Request) {
	if !control.AllowMethod(w, r, http.MethodGet) {
		return
	}
	p.mu.Lock()
	ph := p.phase
	p.mu.Unlock()
	st := control.Status{}
	if reporter, ok := p.runner.(StatusReporter); ok {
		st = reporter.Status()
	}
	st.RunID, st.Phase = p.opts.RunID, ph.String()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}
