package podrunner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// Runner plays the kubelet for the pods it selects. Build it with New; Run runs it.
type Runner struct {
	cfg      Config
	client   kubernetes.Interface
	selector labels.Selector
	log      logr.Logger
	pool     *addressPool
	out      *syncWriter

	mu       sync.Mutex
	started  bool
	stopping bool
	runCtx   context.Context
	wg       sync.WaitGroup
	pods     map[types.UID]*podWorker
	seen     map[types.UID]struct{} // pods this runner has taken: they never run twice
	removing map[types.UID]struct{}
	dirs     map[string]string // "namespace/name" to the folder of the latest pod of that name

	procMu sync.Mutex
	procs  map[procKey]*procEntry
}

type procKey struct {
	uid       types.UID
	container string
}

type procEntry struct {
	proc Process
	cmd  *exec.Cmd
}

// statusBackoff retries status writes on conflicts: envtest answers in milliseconds,
// but tens of pods and the operator write at once.
var statusBackoff = wait.Backoff{Steps: 10, Duration: 10 * time.Millisecond, Factor: 2, Jitter: 0.1, Cap: time.Second}

// Run watches the selected pods and runs them until ctx ends; then it ends their
// processes (SIGTERM, SIGKILL after the grace period, capped by
// Config.ShutdownGracePeriod) without writing their status, as a node that goes away,
// and returns. It returns an error only when it cannot start.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("podrunner: Run was already called")
	}
	r.started, r.runCtx = true, ctx
	r.mu.Unlock()

	namespaces := r.cfg.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    r.onPod,
		UpdateFunc: func(_, obj any) { r.onPod(obj) },
		DeleteFunc: r.onPodDeleted,
	}
	factories := make([]informers.SharedInformerFactory, 0, len(namespaces))
	defer func() {
		r.mu.Lock()
		r.stopping = true
		r.mu.Unlock()
		cancel()
		for _, f := range factories {
			f.Shutdown()
		}
		r.wg.Wait()
		r.log.Info("Pod runner stopped")
	}()
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(r.client, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = r.selector.String() }))
		if _, err := f.Core().V1().Pods().Informer().AddEventHandler(handler); err != nil {
			return fmt.Errorf("podrunner: watching pods: %w", err)
		}
		factories = append(factories, f)
		f.Start(ctx.Done())
	}
	for _, f := range factories {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok && ctx.Err() == nil {
				return fmt.Errorf("podrunner: the %v informer did not sync", typ)
			}
		}
	}
	r.log.Info("Pod runner started", "node", r.cfg.NodeName, "namespaces", namespaces, "selector", r.selector.String(),
		"binary", r.cfg.Binary, "workDir", r.cfg.WorkDir, "addressPool", r.cfg.AddressPool.String())
	<-ctx.Done()
	return nil
}

// spawn runs f on its own goroutine until Run ends; callers hold r.mu.
func (r *Runner) spawn(f func(ctx context.Context)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f(r.runCtx)
	}()
}

func (r *Runner) onPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || (pod.Spec.NodeName != "" && pod.Spec.NodeName != r.cfg.NodeName) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return
	}
	if w, ok := r.pods[pod.UID]; ok {
		w.notify(pod, false)
		return
	}
	if pod.DeletionTimestamp != nil {
		// Nothing runs for it (it ended, or never started): only the kubelet's last step is left.
		if _, busy := r.removing[pod.UID]; !busy {
			r.removing[pod.UID] = struct{}{}
			r.spawn(func(ctx context.Context) { r.removePod(ctx, pod) })
		}
		return
	}
	if _, ok := r.seen[pod.UID]; ok || isTerminal(pod) {
		return
	}
	r.seen[pod.UID] = struct{}{}
	if pod.Status.StartTime != nil {
		// Another runner (an earlier instance of this one) ran it; its process is gone.
		r.spawn(func(ctx context.Context) { r.markLost(ctx, pod) })
		return
	}
	w := newPodWorker(r, pod)
	r.pods[pod.UID] = w
	r.dirs[pod.Namespace+"/"+pod.Name] = w.dir
	r.spawn(w.run)
}

func (r *Runner) onPodDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.pods[pod.UID]; ok {
		w.notify(pod, true)
	}
	delete(r.seen, pod.UID)
	delete(r.removing, pod.UID)
}

// podDone unregisters a worker; it returns the last version of the pod the worker was
// sent, so that a deletion that came in while it was ending is not lost.
func (r *Runner) podDone(w *podWorker) (latest *corev1.Pod, gone bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pods, w.uid)
	return w.current()
}

func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// gcFinalizers are removed by the garbage collector, which envtest does not run.
var gcFinalizers = []string{metav1.FinalizerDeleteDependents, metav1.FinalizerOrphanDependents}

// removePod is the kubelet's last step for a pod being deleted whose processes have
// ended: delete it with grace 0 so the API server forgets it. The garbage collector's
// finalizers are removed first, standing in for it; other finalizers stay (their
// owners remove them). The pod's volumes (Secrets among them) are removed; its logs stay.
func (r *Runner) removePod(ctx context.Context, pod *corev1.Pod) {
	log := r.log.WithValues("pod", klogRef(pod))
	pods := r.client.CoreV1().Pods(pod.Namespace)
	err := retry.RetryOnConflict(statusBackoff, func() error {
		cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID {
			return apierrors.NewNotFound(corev1.Resource("pods"), pod.Name)
		}
		kept := slices.DeleteFunc(slices.Clone(cur.Finalizers), func(f string) bool { return slices.Contains(gcFinalizers, f) })
		if len(kept) == len(cur.Finalizers) {
			return nil
		}
		cur.Finalizers = kept
		_, err = pods.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	// Volumes go first, as the kubelet unmounts them before the pod is deleted.
	if err := os.RemoveAll(filepath.Join(r.podDir(pod), "volumes")); err != nil {
		log.Error(err, "Removing the pod's volumes failed")
	}
	if err == nil {
		err = pods.Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
	}
	switch {
	case err == nil:
		log.V(1).Info("Pod removed")
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err) || ctx.Err() != nil:
	default:
		log.Error(err, "Removing the pod failed")
		// Forget the attempt, so the next event about the pod tries again.
		r.mu.Lock()
		delete(r.removing, pod.UID)
		r.mu.Unlock()
	}
}

// markLost ends a pod that an earlier runner ran: its process is gone, so it failed,
// reported as the kubelet reports containers it cannot find.
func (r *Runner) markLost(ctx context.Context, pod *corev1.Pod) {
	pods := r.client.CoreV1().Pods(pod.Namespace)
	err := retry.RetryOnConflict(statusBackoff, func() error {
		cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID || isTerminal(cur) {
			return nil
		}
		now := metav1.Now().Rfc3339Copy()
		cur.Status.Phase = corev1.PodFailed
		cur.Status.Message = "The pod's process was lost when the local pod runner restarted"
		for i := range cur.Status.ContainerStatuses {
			cs := &cur.Status.ContainerStatuses[i]
			if cs.State.Terminated == nil {
				cs.State = corev1.ContainerState{Terminated: unknownTermination()}
			}
			cs.Ready, cs.Started = false, ptr.To(false)
		}
		for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
			setCondition(&cur.Status, corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reasonPodCompleted}, now)
		}
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		r.log.Error(err, "Marking a pod of an earlier runner as failed failed", "pod", klogRef(pod))
	}
}

// KillProcess sends sig to the processes of the pod's containers, as a crash or an
// out-of-memory kill would end them; the pod then fails as it would in a cluster.
// SIGKILL ends each process's whole group. It returns ErrNoProcess when the pod has no
// running process.
func (r *Runner) KillProcess(namespace, name string, sig os.Signal) error {
	var cmds []*exec.Cmd
	r.procMu.Lock()
	for _, e := range r.procs {
		if e.proc.Namespace == namespace && e.proc.Pod == name {
			cmds = append(cmds, e.cmd)
		}
	}
	r.procMu.Unlock()
	if len(cmds) == 0 {
		return fmt.Errorf("pod %s/%s: %w", namespace, name, ErrNoProcess)
	}
	var errs []error
	for _, cmd := range cmds {
		if err := signalProcess(cmd, sig); err != nil {
			errs = append(errs, fmt.Errorf("signalling process %d of pod %s/%s: %w", cmd.Process.Pid, namespace, name, err))
		}
	}
	return errors.Join(errs...)
}

// Processes lists the running processes, by namespace, pod and container.
func (r *Runner) Processes() []Process {
	r.procMu.Lock()
	out := make([]Process, 0, len(r.procs))
	for _, e := range r.procs {
		out = append(out, e.proc)
	}
	r.procMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Namespace+"/"+a.Pod+"/"+a.Container < b.Namespace+"/"+b.Pod+"/"+b.Container
	})
	return out
}

func (r *Runner) addProcess(p Process, cmd *exec.Cmd) {
	r.procMu.Lock()
	defer r.procMu.Unlock()
	r.procs[procKey{uid: p.UID, container: p.Container}] = &procEntry{proc: p, cmd: cmd}
}

func (r *Runner) removeProcess(uid types.UID, container string) {
	r.procMu.Lock()
	defer r.procMu.Unlock()
	delete(r.procs, procKey{uid: uid, container: container})
}

// ClaimDir is the folder that stands for a PersistentVolumeClaim: a test may fill it
// before the pod starts; pods mounting the claim share it.
func (r *Runner) ClaimDir(namespace, claim string) string {
	return filepath.Join(r.cfg.WorkDir, "pvc", namespace, claim)
}

// PodDir is the folder of the latest pod of that name the runner ran: its volumes,
// container logs (<container>.log) and termination messages.
func (r *Runner) PodDir(namespace, name string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dir, ok := r.dirs[namespace+"/"+name]
	return dir, ok
}

// LogFile is the output file of a container of the latest pod of that name; it stays
// after the pod is deleted.
func (r *Runner) LogFile(namespace, name, container string) (string, error) {
	dir, ok := r.PodDir(namespace, name)
	if !ok {
		return "", fmt.Errorf("pod %s/%s was not run by this runner", namespace, name)
	}
	return filepath.Join(dir, container+".log"), nil
}

func (r *Runner) podDir(pod *corev1.Pod) string {
	return filepath.Join(r.cfg.WorkDir, "pods", pod.Namespace, pod.Name+"_"+string(pod.UID))
}

// klogRef names a pod in log lines as "namespace/name".
func klogRef(pod *corev1.Pod) string {
	return pod.Namespace + "/" + pod.Name
}
