package podrunner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/streamreplay/streamreplay/internal/plan"
)

const (
	// minGracePeriod is the kubelet's floor for a container's grace period.
	minGracePeriod = 2 * time.Second
	// defaultGracePeriod is terminationGracePeriodSeconds' default.
	defaultGracePeriod = 30 * time.Second
	// waitDelay bounds how long output copying may outlive a process (a child holding
	// its output open).
	waitDelay = 5 * time.Second
	// statusTimeout bounds one status write with its retries.
	statusTimeout = 30 * time.Second
)

// podWorker runs one pod from its pick-up to its end, on one goroutine (run) that owns
// all its state; the informer's handlers reach it through notify only.
type podWorker struct {
	r   *Runner
	uid types.UID
	log logr.Logger
	dir string

	// Guarded by mu: the newest version of the pod from the informer.
	mu     sync.Mutex
	latest *corev1.Pod
	gone   bool
	wake   chan struct{}

	// Owned by run.
	pod         *corev1.Pod
	ip          netip.Addr
	startTime   metav1.Time // as reported: whole seconds
	pickedUp    time.Time   // precise, for the deadline
	containers  []*container
	started     bool // the processes were started (each may have failed to)
	waitReason  string
	waitMessage string
	dirty       bool // the status changed since it was last written

	deadline         time.Time
	deadlineExceeded bool
	deleting         bool
	deletedFromAPI   bool // the pod vanished: no more status writes
	shuttingDown     bool // Run is returning: no more API calls

	exits    chan exitEvent
	probes   chan probeEvent
	probesWG sync.WaitGroup
	timers   timers
}

// timers are the worker's wake-ups; a nil channel never fires.
type timers struct {
	retry, deadline, kill, status *time.Timer
}

type container struct {
	spec      *corev1.Container
	logPath   string
	termPath  string
	cmd       *exec.Cmd
	logFile   *os.File
	prefix    *prefixWriter
	proc      Process
	startedAt metav1.Time

	running    bool
	started    bool // the startup probe passed (or there is none)
	ready      bool
	terminated *corev1.ContainerStateTerminated
	termSent   bool
	killAt     time.Time
	stopProbes context.CancelFunc
}

type exitEvent struct {
	container int
	state     *os.ProcessState
}

func newPodWorker(r *Runner, pod *corev1.Pod) *podWorker {
	w := &podWorker{
		r:      r,
		uid:    pod.UID,
		log:    r.log.WithValues("pod", klogRef(pod)),
		dir:    r.podDir(pod),
		latest: pod,
		wake:   make(chan struct{}, 1),
		pod:    pod,
		exits:  make(chan exitEvent, len(pod.Spec.Containers)),
		probes: make(chan probeEvent, 16),
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		w.containers = append(w.containers, &container{
			spec:     c,
			logPath:  filepath.Join(w.dir, c.Name+".log"),
			termPath: filepath.Join(w.dir, c.Name+".termination-log"),
		})
	}
	return w
}

// notify hands the worker a newer version of its pod, or tells it the pod is gone from
// the API server. Called with r.mu held.
func (w *podWorker) notify(pod *corev1.Pod, gone bool) {
	w.mu.Lock()
	w.latest = pod
	w.gone = w.gone || gone
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) current() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest, w.gone
}

// run is the pod's life: bind, get an address, prepare and start the containers, then
// follow processes, probes, deletion and the deadline until every process has ended,
// writing the status whenever it changes.
func (w *podWorker) run(ctx context.Context) {
	defer w.cleanup()
	w.log.V(1).Info("Pod picked up")
	if err := w.bind(ctx); err != nil {
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			w.log.Error(err, "Binding the pod failed; leaving it")
		}
		return
	}
	w.pickedUp = time.Now()
	w.startTime = metav1.NewTime(w.pickedUp).Rfc3339Copy()
	w.dirty = true
	w.setDeadline()
	w.timers.retry = time.NewTimer(0)

	for !w.finished() {
		select {
		case <-ctxDone(ctx, w.shuttingDown):
			w.shuttingDown = true
			w.terminateAll(min(w.gracePeriod(nil), w.r.cfg.ShutdownGracePeriod))
		case <-w.wake:
			w.refresh()
		case <-timerC(w.timers.retry):
			w.timers.retry = nil
			if !w.stopping() {
				w.tryStart(ctx)
			}
		case <-timerC(w.timers.deadline):
			w.timers.deadline = nil
			w.log.Info("Pod exceeded its active deadline; stopping it")
			w.deadlineExceeded, w.dirty = true, true
			w.terminateAll(w.gracePeriod(nil))
		case <-timerC(w.timers.kill):
			w.timers.kill = nil
			w.killDue()
		case <-timerC(w.timers.status):
			w.timers.status = nil
		case e := <-w.exits:
			w.onExit(e)
		case e := <-w.probes:
			w.onProbe(e)
		}
		w.syncStatus(ctx)
	}

	if w.shuttingDown || w.deletedFromAPI {
		return
	}
	w.dirty = true
	w.syncStatus(ctx)
	if w.deleting {
		w.r.removePod(ctx, w.pod)
	}
}

// cleanup releases what run held; a deletion that arrived after run's loop ended is
// carried out here.
func (w *podWorker) cleanup() {
	for _, t := range []*time.Timer{w.timers.retry, w.timers.deadline, w.timers.kill, w.timers.status} {
		if t != nil {
			t.Stop()
		}
	}
	for _, c := range w.containers {
		if c.stopProbes != nil {
			c.stopProbes()
		}
	}
	w.probesWG.Wait()
	if w.ip.IsValid() {
		w.r.pool.release(w.ip)
	}
	latest, gone := w.r.podDone(w)
	if !w.deleting && !gone && !w.shuttingDown && latest.DeletionTimestamp != nil {
		w.r.removePod(w.r.runCtx, latest)
	}
	w.log.V(1).Info("Pod worker done")
}

func ctxDone(ctx context.Context, handled bool) <-chan struct{} {
	if handled {
		return nil
	}
	return ctx.Done()
}

func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

// bind plays the scheduler: the pod goes to this runner's node.
func (w *podWorker) bind(ctx context.Context) error {
	if w.pod.Spec.NodeName != "" {
		return nil
	}
	pods := w.r.client.CoreV1().Pods(w.pod.Namespace)
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: w.pod.Name, Namespace: w.pod.Namespace, UID: w.uid},
		Target:     corev1.ObjectReference{Kind: "Node", Name: w.r.cfg.NodeName},
	}
	err := retry.OnError(statusBackoff, isTransient, func() error {
		return pods.Bind(ctx, binding, metav1.CreateOptions{})
	})
	if err != nil {
		return fmt.Errorf("binding to node %s: %w", w.r.cfg.NodeName, err)
	}
	return nil
}

func isTransient(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

// refresh takes in the newest version of the pod: a deletion, a vanished pod, a
// shorter active deadline.
func (w *podWorker) refresh() {
	pod, gone := w.current()
	w.pod = pod
	switch {
	case gone && !w.deletedFromAPI:
		w.deletedFromAPI = true
		w.log.V(1).Info("Pod vanished from the API server; stopping its processes")
		w.terminateAll(minGracePeriod)
	case pod.DeletionTimestamp != nil && !w.deletedFromAPI:
		if !w.deleting {
			w.log.V(1).Info("Pod is being deleted; stopping its processes")
		}
		w.deleting = true
		w.terminateAll(w.gracePeriod(pod.DeletionGracePeriodSeconds))
	}
	w.setDeadline()
}

// setDeadline arms the activeDeadlineSeconds timer, counted from the start time as the
// kubelet does (precisely: status.startTime shows whole seconds); the field may be
// shortened on a running pod.
func (w *podWorker) setDeadline() {
	if w.deadlineExceeded || w.pod.Spec.ActiveDeadlineSeconds == nil {
		return
	}
	d := w.pickedUp.Add(time.Duration(*w.pod.Spec.ActiveDeadlineSeconds) * time.Second)
	if d.Equal(w.deadline) {
		return
	}
	w.deadline = d
	if w.timers.deadline != nil {
		w.timers.deadline.Stop()
	}
	w.timers.deadline = time.NewTimer(time.Until(d))
}

// gracePeriod is the time between SIGTERM and SIGKILL: override (the deletion's), else
// terminationGracePeriodSeconds, at least 2 s as the kubelet.
func (w *podWorker) gracePeriod(override *int64) time.Duration {
	g := defaultGracePeriod
	if s := w.pod.Spec.TerminationGracePeriodSeconds; s != nil {
		g = time.Duration(*s) * time.Second
	}
	if override != nil {
		g = time.Duration(*override) * time.Second
	}
	return max(g, minGracePeriod)
}

// stopping tells whether the pod must not start any more.
func (w *podWorker) stopping() bool {
	return w.deleting || w.deletedFromAPI || w.deadlineExceeded || w.shuttingDown
}

// finished tells whether the pod's life is over: every process ended, or none will start.
func (w *podWorker) finished() bool {
	for _, c := range w.containers {
		if c.running {
			return false
		}
	}
	return w.started || w.stopping()
}

// tryStart makes the pod's sandbox (its address), then its volumes and environment,
// then starts its containers; what is missing is retried, as the kubelet retries.
func (w *podWorker) tryStart(ctx context.Context) {
	if !w.ip.IsValid() {
		ip, err := w.r.pool.allocate(w.ports())
		if err != nil {
			w.setWaiting("ContainerCreating", "Failed to create pod sandbox: "+err.Error())
			w.timers.retry = time.NewTimer(w.r.cfg.RetryPeriod)
			return
		}
		w.ip, w.dirty = ip, true
		// Report Pending with the address first, then start.
		w.timers.retry = time.NewTimer(0)
		return
	}

	objs := newObjects(w.r.client, w.pod.Namespace)
	cmds, reason, err := w.prepare(ctx, objs)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		w.log.V(1).Info("Pod cannot start yet", "reason", reason, "message", err.Error())
		w.setWaiting(reason, err.Error())
		w.timers.retry = time.NewTimer(w.r.cfg.RetryPeriod)
		return
	}
	w.started, w.dirty = true, true
	w.waitReason, w.waitMessage = "", ""
	for i, cmd := range cmds {
		if err := w.startContainer(ctx, i, cmd); err != nil {
			w.log.Error(err, "Starting a container failed", "container", w.containers[i].spec.Name)
			now := metav1.Now().Rfc3339Copy()
			w.containers[i].terminated = &corev1.ContainerStateTerminated{
				ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: now, FinishedAt: now,
			}
		}
	}
}

func (w *podWorker) setWaiting(reason, message string) {
	if reason != w.waitReason || message != w.waitMessage {
		w.waitReason, w.waitMessage, w.dirty = reason, message, true
	}
}

// ports are the pod's container ports, which must be free on its address.
func (w *podWorker) ports() []int32 {
	var out []int32
	for _, c := range w.pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
				out = append(out, p.ContainerPort)
			}
		}
	}
	return out
}

// prepare materialises the volumes and builds every container's command; reason is the
// kubelet's waiting reason when it fails.
func (w *podWorker) prepare(ctx context.Context, objs *objects) ([]*exec.Cmd, string, error) {
	if len(w.pod.Spec.InitContainers) > 0 || len(w.pod.Spec.EphemeralContainers) > 0 {
		return nil, "CreateContainerConfigError", errors.New("the local pod runner does not run init or ephemeral containers")
	}
	vols, err := w.materialiseVolumes(ctx, objs)
	if err != nil {
		return nil, "ContainerCreating", err
	}
	cmds := make([]*exec.Cmd, len(w.containers))
	for i := range w.containers {
		if cmds[i], err = w.command(ctx, w.containers[i], vols, objs); err != nil {
			return nil, "CreateContainerConfigError", err
		}
	}
	return cmds, "", nil
}

// portFlags are the flags that tell streamreplay where to listen, by port name.
var portFlags = map[string]string{plan.ControlPortName: "control-address", plan.MetricsPortName: "metrics-address"}

// command builds a container's process: the runner's binary with the container's
// command (without the image's executable) and args, its resolved environment, and
// every container path of a mount rewritten to the volume's local folder.
func (w *podWorker) command(ctx context.Context, c *container, vols map[string]string, objs *objects) (*exec.Cmd, error) {
	fields := &podFields{pod: w.pod, podIP: w.ip.String(), hostIP: w.r.cfg.HostIP.String(), node: w.r.cfg.NodeName}
	env, err := resolveEnv(ctx, c.spec, fields, objs)
	if err != nil {
		return nil, err
	}

	ms := make([]mount, 0, len(c.spec.VolumeMounts))
	var tmp string
	for _, vm := range c.spec.VolumeMounts {
		local, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %q names no volume of the pod", vm.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expand(vm.SubPathExpr, env.lookup)
		}
		if sub != "" {
			if !filepath.IsLocal(sub) {
				return nil, fmt.Errorf("volume mount %q: subPath %q leaves the volume", vm.Name, sub)
			}
			local = filepath.Join(local, sub)
			if err := os.MkdirAll(local, dirMode); err != nil {
				return nil, fmt.Errorf("volume mount %q: %w", vm.Name, err)
			}
		}
		if filepath.Clean(vm.MountPath) == "/tmp" {
			tmp = local
		}
		ms = append(ms, mount{path: vm.MountPath, local: local})
	}
	rewrite := newMounts(ms).rewrite

	var args []string
	if len(c.spec.Command) > 1 {
		args = append(args, c.spec.Command[1:]...)
	}
	args = append(args, c.spec.Args...)
	for i, a := range args {
		args[i] = rewrite(expand(a, env.lookup))
	}
	// The pod's ports on its own address (a process cannot bind 0.0.0.0:9400 once per pod).
	for _, p := range c.spec.Ports {
		if flag, ok := portFlags[p.Name]; ok {
			args = append(args, "--"+flag+"="+net.JoinHostPort(w.ip.String(), strconv.Itoa(int(p.ContainerPort))))
		}
	}
	args = append(args, "--termination-log="+c.termPath)

	// The host's PATH and HOME, the runner's extra variables, what a runtime sets, then
	// the pod's own variables, which win.
	final := &envList{}
	for _, kv := range append(hostEnv(), w.r.cfg.Env...) {
		name, value, _ := strings.Cut(kv, "=")
		final.set(name, value)
	}
	final.set("HOSTNAME", w.pod.Name)
	if tmp != "" {
		final.set("TMPDIR", tmp)
	}
	for _, name := range env.names {
		final.set(name, rewrite(env.values[name]))
	}
	environ := make([]string, 0, len(final.names))
	for _, name := range final.names {
		environ = append(environ, name+"="+final.values[name])
	}

	dir := w.dir
	if wd := c.spec.WorkingDir; wd != "" {
		if local := rewrite(wd); local != wd {
			dir = local
		}
	}
	cmd := exec.Command(w.r.cfg.Binary, args...) //nolint:gosec // running the configured binary with the pod's arguments is the runner's job
	cmd.Env = environ
	cmd.Dir = dir
	return cmd, nil
}

// startContainer starts one process with its output going to its log file (and the
// runner's LogOutput), then follows its exit and runs its probes.
func (w *podWorker) startContainer(ctx context.Context, i int, cmd *exec.Cmd) error {
	c := w.containers[i]
	if err := os.MkdirAll(w.dir, dirMode); err != nil {
		return fmt.Errorf("creating the pod folder: %w", err)
	}
	// The kubelet gives the container an empty termination-log file.
	if err := os.WriteFile(c.termPath, nil, 0o600); err != nil {
		return fmt.Errorf("creating the termination log: %w", err)
	}
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	var out io.Writer = logFile
	if w.r.out != nil {
		prefix := klogRef(w.pod) + " "
		if len(w.containers) > 1 {
			prefix = klogRef(w.pod) + "/" + c.spec.Name + " "
		}
		c.prefix = &prefixWriter{out: w.r.out, prefix: prefix}
		out = io.MultiWriter(logFile, c.prefix)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = waitDelay
	if hook := w.r.cfg.Hooks.BeforeStart; hook != nil {
		if err := hook(w.pod.DeepCopy(), c.spec.Name, cmd); err != nil {
			_ = logFile.Close()
			return fmt.Errorf("BeforeStart hook: %w", err)
		}
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	c.cmd, c.logFile = cmd, logFile
	c.running, c.started = true, c.spec.StartupProbe == nil
	c.startedAt = metav1.Now().Rfc3339Copy()
	c.proc = Process{
		Namespace: w.pod.Namespace, Pod: w.pod.Name, UID: w.uid, Container: c.spec.Name,
		PID: cmd.Process.Pid, PodIP: w.ip, StartedAt: c.startedAt.Time, Dir: w.dir, LogFile: c.logPath,
	}
	w.r.addProcess(c.proc, cmd)
	w.log.Info("Container process started", "container", c.spec.Name, "pid", cmd.Process.Pid, "podIP", w.ip.String())
	if hook := w.r.cfg.Hooks.Started; hook != nil {
		hook(c.proc)
	}
	go func() {
		_ = cmd.Wait() // the exit status is in ProcessState; copying errors do not matter
		w.exits <- exitEvent{container: i, state: cmd.ProcessState}
	}()

	probeCtx, cancel := context.WithCancel(ctx)
	c.stopProbes = cancel
	w.probesWG.Add(1)
	go func() {
		defer w.probesWG.Done()
		w.runProbes(probeCtx, i)
	}()
	return nil
}

// runProbes runs a container's startup probe, then its readiness and liveness probes.
func (w *podWorker) runProbes(ctx context.Context, i int) {
	c := w.containers[i]
	send := func(kind probeKind) func(bool, error) bool {
		return func(ok bool, err error) bool {
			select {
			case w.probes <- probeEvent{container: i, kind: kind, ok: ok, err: err}:
				return true
			case <-ctx.Done():
				return false
			}
		}
	}
	ip := w.ip.String()
	if p := c.spec.StartupProbe; p != nil {
		started := false
		newProber(startupProbe, p, ip, c.spec.Ports).run(ctx, func(ok bool, err error) bool {
			started = ok
			return send(startupProbe)(ok, err)
		})
		if !started {
			return
		}
	}
	var wg sync.WaitGroup
	if p := c.spec.ReadinessProbe; p != nil {
		wg.Go(func() { newProber(readinessProbe, p, ip, c.spec.Ports).run(ctx, send(readinessProbe)) })
	}
	if p := c.spec.LivenessProbe; p != nil {
		wg.Go(func() { newProber(livenessProbe, p, ip, c.spec.Ports).run(ctx, send(livenessProbe)) })
	}
	wg.Wait()
}

func (w *podWorker) onProbe(e probeEvent) {
	c := w.containers[e.container]
	if !c.running {
		return
	}
	switch {
	case e.kind == readinessProbe:
		c.ready = e.ok
		w.dirty = true
		w.log.V(1).Info("Readiness changed", "container", c.spec.Name, "ready", e.ok)
	case e.ok: // the startup probe passed; readiness and liveness probes start now
		c.started = true
		w.dirty = true
	default:
		w.log.Info("Container failed its probe; stopping it", "container", c.spec.Name, "probe", e.kind.String(), "error", errString(e.err))
		w.terminate(c, w.probeGracePeriod(e.kind, c))
	}
}

func (w *podWorker) probeGracePeriod(kind probeKind, c *container) time.Duration {
	p := c.spec.LivenessProbe
	if kind == startupProbe {
		p = c.spec.StartupProbe
	}
	if p != nil && p.TerminationGracePeriodSeconds != nil {
		return w.gracePeriod(p.TerminationGracePeriodSeconds)
	}
	return w.gracePeriod(nil)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// terminateAll sends SIGTERM to every running process, and arms SIGKILL after grace (or
// sooner when an earlier request asked for sooner).
func (w *podWorker) terminateAll(grace time.Duration) {
	for _, c := range w.containers {
		w.terminate(c, grace)
	}
}

func (w *podWorker) terminate(c *container, grace time.Duration) {
	if !c.running {
		return
	}
	killAt := time.Now().Add(grace)
	if !c.termSent {
		c.termSent = true
		c.killAt = killAt
		w.log.V(1).Info("Sending SIGTERM", "container", c.spec.Name, "gracePeriod", grace.String())
		if err := signalProcess(c.cmd, syscall.SIGTERM); err != nil {
			w.log.Error(err, "Sending SIGTERM failed", "container", c.spec.Name)
		}
	} else if killAt.Before(c.killAt) {
		c.killAt = killAt
	}
	w.armKill()
}

// armKill sets the kill timer to the earliest pending SIGKILL.
func (w *podWorker) armKill() {
	var next time.Time
	for _, c := range w.containers {
		if c.running && !c.killAt.IsZero() && (next.IsZero() || c.killAt.Before(next)) {
			next = c.killAt
		}
	}
	if w.timers.kill != nil {
		w.timers.kill.Stop()
		w.timers.kill = nil
	}
	if !next.IsZero() {
		w.timers.kill = time.NewTimer(time.Until(next))
	}
}

func (w *podWorker) killDue() {
	now := time.Now()
	for _, c := range w.containers {
		if c.running && !c.killAt.IsZero() && !now.Before(c.killAt) {
			w.log.Info("Grace period over; sending SIGKILL", "container", c.spec.Name)
			if err := signalProcess(c.cmd, syscall.SIGKILL); err != nil {
				w.log.Error(err, "Sending SIGKILL failed", "container", c.spec.Name)
			}
			// Signalled once; its exit ends the wait.
			c.killAt = time.Time{}
		}
	}
	w.armKill()
}

// onExit records a process's end as the container's terminated state.
func (w *podWorker) onExit(e exitEvent) {
	c := w.containers[e.container]
	c.running, c.ready = false, false
	c.stopProbes()
	w.r.removeProcess(w.uid, c.spec.Name)
	if c.prefix != nil {
		c.prefix.flush()
	}
	_ = c.logFile.Close()

	code, signal := exitStatus(e.state)
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	c.terminated = &corev1.ContainerStateTerminated{
		ExitCode:    code,
		Signal:      signal,
		Reason:      reason,
		Message:     c.terminationMessage(code, messageBudget(&w.pod.Spec)),
		StartedAt:   c.startedAt,
		FinishedAt:  metav1.Now().Rfc3339Copy(),
		ContainerID: c.containerID(),
	}
	w.dirty = true
	w.log.Info("Container process exited", "container", c.spec.Name, "exitCode", code, "signal", signal)
	if hook := w.r.cfg.Hooks.Exited; hook != nil {
		hook(c.proc, *c.terminated.DeepCopy())
	}
	w.armKill()
}

// terminationMessage is what the kubelet reports: the termination-log file's last 4096
// bytes, or with FallbackToLogsOnError, after a failure with an empty file, the log's tail;
// then at most the container's share of the pod's 12 KiB (see messageBudget).
func (c *container) terminationMessage(code int32, budget int) string {
	b, err := readTail(c.termPath, maxTerminationMessage)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("Error on reading termination message from %s: %v", c.termPath, err)
	}
	msg := string(b)
	if len(b) == 0 && code != 0 && c.spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		msg = logTail(c.logPath)
	}
	return msg[:min(len(msg), budget)]
}

// messageBudget is each container's share of the pod's termination messages, as the
// kubelet's status manager cuts them: 12 KiB over every container of the spec.
func messageBudget(spec *corev1.PodSpec) int {
	if n := len(spec.Containers) + len(spec.InitContainers) + len(spec.EphemeralContainers); n > 0 {
		return maxPodTerminationMessages / n
	}
	return maxPodTerminationMessages
}

func (c *container) containerID() string {
	if c.cmd == nil || c.cmd.Process == nil {
		return ""
	}
	return "podrunner://" + strconv.Itoa(c.cmd.Process.Pid)
}

// syncStatus writes the status when it changed. A failed write is retried a second
// later; a vanished pod ends the writes.
func (w *podWorker) syncStatus(ctx context.Context) {
	if !w.dirty || w.deletedFromAPI || w.shuttingDown || ctx.Err() != nil {
		return
	}
	err := w.writeStatus(ctx)
	switch {
	case err == nil:
		w.dirty = false
	case apierrors.IsNotFound(err):
		w.deletedFromAPI = true
		w.terminateAll(minGracePeriod)
	case ctx.Err() != nil:
	default:
		w.log.Error(err, "Writing the pod status failed; retrying")
		if w.timers.status == nil {
			w.timers.status = time.NewTimer(time.Second)
		}
	}
}

func (w *podWorker) writeStatus(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	pods := w.r.client.CoreV1().Pods(w.pod.Namespace)
	return retry.OnError(statusBackoff, func(err error) bool { return apierrors.IsConflict(err) || isTransient(err) }, func() error {
		cur, err := pods.Get(ctx, w.pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != w.uid {
			return apierrors.NewNotFound(corev1.Resource("pods"), w.pod.Name)
		}
		status := w.buildStatus(cur)
		if podStatusEqual(&cur.Status, &status) {
			return nil
		}
		cur.Status = status
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}
