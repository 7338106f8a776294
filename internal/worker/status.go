package worker

import "github.com/streamreplay/streamreplay/internal/control"

// Status implements podrun.StatusReporter: the running totals an early stop reads. Before
// Run has published its start, the counts are zero and Scheduled is 0 (unknown); the
// schedule is read only after that, as the metrics collector does.
func (w *Worker) Status() control.Status {
	st := &w.st
	ws := &control.WorkerStatus{}
	if st.runStart.Load() != 0 {
		ws.Scheduled = w.sched.Total()
	}
	st.mu.Lock()
	ws.Acked, ws.Failed = st.acked, st.failed
	st.mu.Unlock()
	return control.Status{Worker: ws}
}
