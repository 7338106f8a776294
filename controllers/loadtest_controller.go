// Package controllers reconciles LoadTests: it creates the run's pods and results
// ConfigMap, starts the pods together, collects their results and writes the verdict.
package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// PodSignaller delivers the start and stop signals to a pod's control port.
type PodSignaller interface {
	Start(ctx context.Context, pod *corev1.Pod, runID string, at time.Time) error
	Stop(ctx context.Context, pod *corev1.Pod, runID string) error
}

// LoadTestReconciler reconciles LoadTest objects. It keeps no state of its own: every
// decision comes from the LoadTest and its children as the API server has them.
type LoadTestReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	Signals  PodSignaller
	// PodImage is the image of the pods unless the LoadTest's workerTemplate names one.
	PodImage string
	// StartLead is how far ahead of now the common start time is set, so that every pod
	// receives it before it comes.
	StartLead time.Duration
	// ControlKey signs the runs' control tokens (see internal/control).
	ControlKey control.Key
	// NetworkPolicy, when set, makes a NetworkPolicy per run that lets only the operator
	// reach the pods' control port and only the monitoring namespaces their metrics.
	NetworkPolicy *NetworkPolicyConfig

	// APIReader reads what the manager does not cache: the metadata of the sample
	// ConfigMap or claim, and the kubelet's FailedMount events, while pods wait to start.
	APIReader client.Reader

	// SignalBudget and MaxConcurrentReconciles keep one LoadTest from holding up the
	// others (see signaller.go).
	SignalBudget            time.Duration
	MaxConcurrentReconciles int
}

// maxRequeue bounds how long a running test goes unobserved when no pod changes.
const maxRequeue = 30 * time.Second

// retrySignal is how soon an undelivered start or stop signal is sent again.
const retrySignal = time.Second

// +kubebuilder:rbac:groups=streamreplay.io,resources=loadtests,verbs=get;list;watch
// +kubebuilder:rbac:groups=streamreplay.io,resources=loadtests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=streamreplay.io,resources=loadtests/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;create;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=list
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one LoadTest one step along its run.
func (r *LoadTestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	lt := &streamreplayv1alpha1.LoadTest{}
	if err := r.Get(ctx, req.NamespacedName, lt); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted: stop its pods now rather than when the garbage collector acts.
			return ctrl.Result{}, r.stopOrphans(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, fmt.Errorf("reading LoadTest %s: %w", req.NamespacedName, err)
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(lt.Namespace), client.MatchingFields{podLoadTestField: lt.Name},
		client.MatchingLabels(selectorLabels(lt))); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing pods of LoadTest %s: %w", req.NamespacedName, err)
	}
	before := lt.Status.DeepCopy()
	observeGeneration(lt)
	if lt.Status.Phase.Finished() {
		// Only a late stop request can change a finished test's spec: acknowledge the
		// generation so that kstatus does not read the test as in progress again.
		if err := r.writeStatus(ctx, before, lt); err != nil {
			return ctrl.Result{}, err
		}
		return r.cleanup(ctx, lt, pods.Items)
	}
	run := &runStep{r: r, lt: lt, now: r.Clock.Now(), members: members(lt, pods.Items), previousMessage: before.Message}
	if err := run.advance(ctx); err != nil {
		return ctrl.Result{}, err
	}
	if lt.Status.Phase.Finished() && !before.Phase.Finished() && lt.DeletionTimestamp == nil {
		// The results ConfigMap ends with the outcome before the status says it, so that
		// a reader of the status never finds a ConfigMap that still says "not finished".
		if err := run.writeResults(ctx); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.writeStatus(ctx, before, lt); err != nil {
		switch {
		case apierrors.IsConflict(err):
			// Another write won; derive the state again from the newer object.
			return ctrl.Result{RequeueAfter: time.Millisecond}, nil
		case apierrors.IsNotFound(err):
			// Deleted during this reconcile; the next one stops its pods.
			return ctrl.Result{RequeueAfter: time.Millisecond}, nil
		}
		return ctrl.Result{}, err
	}
	for _, e := range run.events {
		r.Recorder.Eventf(lt, nil, e.kind, e.reason, e.reason, "%s", e.note)
	}
	return ctrl.Result{RequeueAfter: run.requeueAfter}, nil
}

// writeStatus writes the status when it changed, with optimistic concurrency.
func (r *LoadTestReconciler) writeStatus(ctx context.Context, before *streamreplayv1alpha1.LoadTestStatus, lt *streamreplayv1alpha1.LoadTest) error {
	if equality.Semantic.DeepEqual(before, &lt.Status) {
		return nil
	}
	if err := r.Status().Update(ctx, lt); err != nil {
		return fmt.Errorf("updating status of LoadTest %s/%s: %w", lt.Namespace, lt.Name, err)
	}
	return nil
}

// observeGeneration marks the status and its conditions as describing the current spec.
func observeGeneration(lt *streamreplayv1alpha1.LoadTest) {
	lt.Status.ObservedGeneration = lt.Generation
	for i := range lt.Status.Conditions {
		lt.Status.Conditions[i].ObservedGeneration = lt.Generation
	}
}

// SetupWithManager registers the controller; it watches the LoadTests and the pods they
// own. The results ConfigMap is only written, so it is not watched or cached.
func (r *LoadTestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &corev1.Pod{}, podLoadTestField, podLoadTest); err != nil {
		return fmt.Errorf("indexing pods by LoadTest: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&streamreplayv1alpha1.LoadTest{}).
		Owns(&corev1.Pod{}).
		Named("loadtest").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// podLoadTestField indexes the cached pods by their LoadTest label: a reconcile lists its
// own few pods through the index, where a label selector alone would test every pod of the
// namespace (thousands, at scale) on each pass.
const podLoadTestField = "metadata.labels." + LabelLoadTest

// podLoadTest is podLoadTestField's value of a pod.
func podLoadTest(obj client.Object) []string {
	if name, ok := obj.GetLabels()[LabelLoadTest]; ok {
		return []string{name}
	}
	return nil
}

// cleanup handles a finished LoadTest: pods still running are stopped at once (their load
// means nothing any more), and by the cleanup policy all pods go after the TTL. The
// LoadTest and its results ConfigMap stay.
func (r *LoadTestReconciler) cleanup(ctx context.Context, lt *streamreplayv1alpha1.LoadTest, pods []corev1.Pod) (ctrl.Result, error) {
	now := r.Clock.Now()
	// Admission always sets the policy and the TTL (the CRD holds their defaults).
	ttl := time.Duration(ptr.Deref(lt.Spec.Cleanup.TTLSecondsAfterFinished, 0)) * time.Second
	policy := lt.Spec.Cleanup.Policy
	expire := policy == streamreplayv1alpha1.CleanupAlways ||
		(policy == streamreplayv1alpha1.CleanupOnSuccess && lt.Status.Phase == streamreplayv1alpha1.PhasePassed)
	var finishedAt time.Time
	if lt.Status.CompletionTime != nil {
		finishedAt = lt.Status.CompletionTime.Time
	}
	expired := expire && !now.Before(finishedAt.Add(ttl))

	r.stopRunning(ctx, pods)
	var requeue time.Duration
	for i := range pods {
		pod := &pods[i]
		if pod.DeletionTimestamp != nil {
			continue
		}
		running := pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
		switch {
		case running || expired:
			if err := client.IgnoreNotFound(r.Delete(ctx, pod)); err != nil {
				return ctrl.Result{}, fmt.Errorf("deleting pod %s of finished LoadTest: %w", pod.Name, err)
			}
			logf.FromContext(ctx).V(1).Info("Deleted pod of finished LoadTest", "pod", pod.Name, "stillRunning", running)
		case expire:
			requeue = finishedAt.Add(ttl).Sub(now)
		}
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

type event struct {
	kind, reason, note string
}

// runStep is one reconcile of an unfinished LoadTest: it mutates lt.Status in memory and
// acts on the children; the caller writes the status and then emits the events.
type runStep struct {
	r            *LoadTestReconciler
	lt           *streamreplayv1alpha1.LoadTest
	now          time.Time
	members      []member
	events       []event
	requeueAfter time.Duration
	// previousMessage is status.message as this reconcile found it: a warning is sent
	// as an event only when it is news.
	previousMessage string
	// outcome is the merged results, once collected.
	outcome *runOutcome
	// finalReason is the reason finish gave.
	finalReason string
	// signalDeadline ends this reconcile's signalling (see signalContext).
	signalDeadline time.Time
}

func (s *runStep) advance(ctx context.Context) error {
	st := &s.lt.Status
	st.RunID = string(s.lt.UID)
	st.ResultsConfigMap = ResultsConfigMapName(s.lt)
	st.ReadyPods = s.readyPods()

	if s.lt.DeletionTimestamp != nil {
		// Being deleted (a finalizer of someone else's, or foreground deletion, holds
		// it): create nothing more; cleanup stops the running pods.
		s.finish(streamreplayv1alpha1.PhaseAborted, "Deleted", "the LoadTest is being deleted before it finished; its running pods are stopped", streamreplayv1alpha1.VerdictInconclusive)
		return nil
	}
	switch st.Phase {
	case "", streamreplayv1alpha1.PhasePending:
		return s.create(ctx)
	case streamreplayv1alpha1.PhaseStarting:
		return s.waitForReady(ctx)
	default:
		return s.run(ctx)
	}
}

func (s *runStep) readyPods() string {
	ready := 0
	for i := range s.members {
		if s.members[i].ready() || s.members[i].succeeded() {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(s.members))
}

// create makes the results ConfigMap and every pod; creating what exists already is fine.
func (s *runStep) create(ctx context.Context) error {
	if s.lt.Spec.Stop {
		s.finish(streamreplayv1alpha1.PhaseAborted, "StopRequested", "stopped before it started", streamreplayv1alpha1.VerdictInconclusive)
		return nil
	}
	cm := BuildResultsConfigMap(s.lt)
	if err := s.createOwned(ctx, cm); err != nil {
		return s.creationFailed(cm, err)
	}
	if done, err := s.createMissingPods(ctx); !done || err != nil {
		return err
	}
	s.setPhase(streamreplayv1alpha1.PhaseStarting, "WaitingForPods", fmt.Sprintf("created %d pods and ConfigMap %s; waiting for the pods to be Ready", len(s.members), cm.Name))
	s.requeueAfter = readyTimeout(&s.lt.Spec)
	return nil
}

// createMissingPods creates the pods that do not exist, after the run's Secret (and
// NetworkPolicy) they need. done is false when it stopped before the end: the LoadTest is
// being deleted, or a child could not be created (the status then says why).
func (s *runStep) createMissingPods(ctx context.Context) (done bool, err error) {
	missing := false
	for i := range s.members {
		missing = missing || s.members[i].pod == nil
	}
	if !missing {
		return true, nil
	}
	// The pods mount the token's Secret. Create only: the operator never reads Secrets,
	// and computes the token again from its key when it signals the pods.
	children := []client.Object{BuildControlSecret(s.lt, s.r.ControlKey.Token(string(s.lt.UID)))}
	if s.r.NetworkPolicy != nil {
		children = append(children, BuildNetworkPolicy(s.lt, s.r.NetworkPolicy))
	}
	for _, obj := range children {
		if err := s.createOwned(ctx, obj); err != nil {
			return false, s.creationFailed(obj, err)
		}
	}
	for i := range s.members {
		m := &s.members[i]
		if m.pod != nil {
			continue
		}
		// A delete must stop a long creation loop at once, not after hundreds of pods:
		// the cache sees it within milliseconds.
		if s.r.deleted(ctx, s.lt) {
			logf.FromContext(ctx).Info("LoadTest deleted while its pods were being created; stopped creating them", "created", i)
			return false, nil
		}
		var pod *corev1.Pod
		if m.role == results.RoleObserver {
			pod, err = BuildObserverPod(s.lt, s.r.PodImage)
		} else {
			pod, err = BuildWorkerPod(s.lt, m.index, s.r.PodImage)
		}
		if err != nil {
			s.finish(streamreplayv1alpha1.PhaseError, "InvalidSpec", err.Error(), streamreplayv1alpha1.VerdictInconclusive)
			return false, nil
		}
		if err := s.createOwned(ctx, pod); err != nil {
			return false, s.creationFailed(pod, err)
		}
	}
	return true, nil
}

func (s *runStep) createOwned(ctx context.Context, obj client.Object) error {
	if err := controllerutil.SetControllerReference(s.lt, obj, s.r.Scheme); err != nil {
		return fmt.Errorf("setting owner of %s: %w", obj.GetName(), err)
	}
	if err := s.r.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s %s: %w", kindOf(obj), obj.GetName(), err)
	}
	return nil
}

// waitForReady waits until every pod is Ready, then fixes the common start time.
func (s *runStep) waitForReady(ctx context.Context) error {
	if s.lt.Spec.Stop {
		s.finish(streamreplayv1alpha1.PhaseAborted, "StopRequested", "stopped before the run started", streamreplayv1alpha1.VerdictInconclusive)
		return nil
	}
	if s.failIfAnyPodFailed() {
		return nil
	}
	// A pod missing before the start harms nothing (the cache may lag behind the
	// create, or someone deleted it): create it again.
	if done, err := s.createMissingPods(ctx); !done || err != nil {
		return err
	}
	var notReady []member
	for _, m := range s.members {
		if !m.ready() {
			notReady = append(notReady, m)
		}
	}
	if len(notReady) > 0 && s.blocked(ctx, notReady) {
		return nil
	}
	deadline := s.lt.CreationTimestamp.Add(readyTimeout(&s.lt.Spec))
	switch {
	case len(notReady) == 0:
		// Cut to the microsecond here, so that the status, the events and every pod
		// get the very same instant.
		start := streamreplayv1alpha1.NewPreciseTime(s.now.Add(s.r.StartLead))
		s.lt.Status.StartTime = start
		s.setCondition(streamreplayv1alpha1.ConditionStarted, false, "Signalling", "sending the start time to every pod")
		s.setPhase(streamreplayv1alpha1.PhaseRunning, "Running", fmt.Sprintf("all %d pods Ready; starting at %s", len(s.members), formatInstant(start.Time)))
		s.requeueAfter = time.Millisecond
	case !s.now.Before(deadline):
		s.finish(streamreplayv1alpha1.PhaseError, "PodsNotReady",
			fmt.Sprintf("pods not Ready within %s: %s", readyTimeout(&s.lt.Spec), describe(notReady, (*member).waitingReason)),
			streamreplayv1alpha1.VerdictInconclusive)
	default:
		s.requeueAfter = min(deadline.Sub(s.now), maxRequeue)
	}
	return nil
}

// failIfAnyPodFailed ends the run with Error when a pod failed, vanished or is being deleted.
func (s *runStep) failIfAnyPodFailed() bool {
	for i := range s.members {
		m := &s.members[i]
		switch {
		case m.pod == nil:
			if s.lt.Status.Phase == streamreplayv1alpha1.PhaseStarting {
				continue
			}
			s.finish(streamreplayv1alpha1.PhaseError, "PodLost", fmt.Sprintf("pod %s was deleted before it finished", m.name), streamreplayv1alpha1.VerdictInconclusive)
			return true
		case m.pod.Status.Phase == corev1.PodFailed:
			s.finish(streamreplayv1alpha1.PhaseError, "PodFailed", fmt.Sprintf("pod %s failed: %s", m.name, m.failure()), streamreplayv1alpha1.VerdictInconclusive)
			return true
		case m.pod.DeletionTimestamp != nil && !m.finished():
			s.finish(streamreplayv1alpha1.PhaseError, "PodLost", fmt.Sprintf("pod %s is being deleted before it finished", m.name), streamreplayv1alpha1.VerdictInconclusive)
			return true
		}
	}
	return false
}

// run follows a started test: delivers the start and stop signals, watches the pods, and
// collects the results once all of them ended.
func (s *runStep) run(ctx context.Context) error {
	if s.failIfAnyPodFailed() {
		return nil
	}
	st := &s.lt.Status
	s.requeueAfter = maxRequeue

	if !s.conditionTrue(streamreplayv1alpha1.ConditionStarted) {
		s.signalStart(ctx)
		if st.Phase.Finished() {
			return nil
		}
	}
	if s.lt.Spec.Stop && !s.conditionTrue(streamreplayv1alpha1.ConditionStopping) {
		s.signalStop(ctx)
	}
	if isCapacity(&s.lt.Spec) && !s.lt.Spec.Stop && s.conditionTrue(streamreplayv1alpha1.ConditionStarted) {
		if handled, err := s.search(ctx); handled || err != nil {
			return err
		}
	}

	s.collectReports(ctx) // collect.go
	workersDone, allDone := true, true
	for i := range s.members {
		m := &s.members[i]
		if !m.finished() {
			allDone = false
			if m.role == results.RoleWorker {
				workersDone = false
			}
		}
	}
	switch {
	case allDone && isCapacity(&s.lt.Spec):
		return s.collectCapacity(ctx)
	case allDone:
		return s.collect(ctx)
	case workersDone && st.Phase != streamreplayv1alpha1.PhaseDraining:
		s.setPhase(streamreplayv1alpha1.PhaseDraining, "Draining", "the workers finished; the observer drains the DLQ and the output topic")
	}
	s.stepEarlyStop(ctx)
	if st.StartTime != nil {
		if end := st.StartTime.Add(runLength(&s.lt.Spec)); end.After(s.now) {
			s.requeueAfter = min(s.requeueAfter, end.Sub(s.now))
		}
	}
	return nil
}

// signalStart sends the recorded start time to every pod that has not ended; a pod that
// cannot be reached within the start timeout fails the run.
func (s *runStep) signalStart(ctx context.Context) {
	ctx, cancel := s.signalContext(ctx)
	defer cancel()
	st := &s.lt.Status
	unreached, lastErr := s.signalAll(func(m *member) error {
		return s.r.Signals.Start(ctx, m.pod, st.RunID, st.StartTime.Time)
	})
	if len(unreached) == 0 {
		s.setCondition(streamreplayv1alpha1.ConditionStarted, true, "AllPodsSignalled", "every pod accepted the start time")
		s.events = append(s.events, event{kind: corev1.EventTypeNormal, reason: "Started", note: "Every pod accepted start time " + formatInstant(st.StartTime.Time)})
		return
	}
	// The start time was recorded StartLead before it, so the timeout counts from then.
	deadline := st.StartTime.Add(-s.r.StartLead).Add(startTimeout(&s.lt.Spec))
	if !s.now.Before(deadline) {
		hint := fmt.Sprintf("check that a NetworkPolicy lets the operator reach port %d (%s) of the pods", plan.ControlPort, plan.ControlPortName)
		if errors.Is(lastErr, control.ErrRefused) {
			hint = fmt.Sprintf("the pods refused the operator's token: Secret %s was not created by this run, or the operator's control key changed", ControlSecretName(s.lt))
		}
		s.finish(streamreplayv1alpha1.PhaseError, "StartTimeout", fmt.Sprintf(
			"could not deliver the start signal within %s to %s; last error: %v; %s",
			startTimeout(&s.lt.Spec), describe(unreached, (*member).podIP), lastErr, hint),
			streamreplayv1alpha1.VerdictInconclusive)
		return
	}
	s.requeueAfter = min(retrySignal, deadline.Sub(s.now))
}

// signalStop asks every running pod to end early. Pods that cannot be reached still end
// at their activeDeadlineSeconds, so the stop is retried but never fails the run.
func (s *runStep) signalStop(ctx context.Context) {
	ctx, cancel := s.signalContext(ctx)
	defer cancel()
	unreached, lastErr := s.signalAll(func(m *member) error {
		return s.r.Signals.Stop(ctx, m.pod, s.lt.Status.RunID)
	})
	if len(unreached) == 0 {
		s.setCondition(streamreplayv1alpha1.ConditionStopping, true, "StopRequested", "every running pod accepted the stop request")
		s.events = append(s.events, event{kind: corev1.EventTypeNormal, reason: "Stopping", note: "Every running pod accepted the stop request"})
		return
	}
	logf.FromContext(ctx).Info("Stop signal not delivered; retrying", "pods", describe(unreached, (*member).podIP), "lastError", lastErr.Error())
	s.requeueAfter = retrySignal
}

// evaluate decodes, merges and judges every pod's results; results that cannot be read
// end the run in Error here, and evaluate returns nil.
func (s *runStep) evaluate(ctx context.Context) *runOutcome {
	outcome, err := evaluateRun(s.lt, s.members, s.timeline(ctx))
	var bad *badResultsError
	switch {
	case errors.As(err, &bad):
		s.finish(streamreplayv1alpha1.PhaseError, "BadResults", bad.Error(), streamreplayv1alpha1.VerdictInconclusive)
		return nil
	case err != nil:
		// Nothing a retry could change (admission checks the thresholds): say so.
		s.finish(streamreplayv1alpha1.PhaseError, "InvalidSpec", err.Error(), streamreplayv1alpha1.VerdictInconclusive)
		return nil
	}
	return outcome
}

// collect reads every pod's results, writes the results ConfigMap and decides the verdict.
func (s *runStep) collect(ctx context.Context) error {
	outcome := s.evaluate(ctx)
	if outcome == nil {
		return nil
	}
	s.outcome = outcome
	st := &s.lt.Status
	st.Results = outcome.summary
	st.Thresholds = outcome.checks
	switch c := s.earlyStop(); {
	case c != nil:
		s.finishEarlyStopped(c, outcome)
	case s.lt.Spec.Stop:
		s.finish(streamreplayv1alpha1.PhaseAborted, "StopRequested", "stopped on request; the results are partial", streamreplayv1alpha1.VerdictInconclusive)
	case !outcome.passed:
		s.finish(streamreplayv1alpha1.PhaseFailed, "ThresholdsNotMet", outcome.message, streamreplayv1alpha1.VerdictFail)
	default:
		s.finish(streamreplayv1alpha1.PhasePassed, "ThresholdsMet", outcome.message, streamreplayv1alpha1.VerdictPass)
	}
	return nil
}

// writeResults writes the outcome of a finished run into the results ConfigMap: the
// merged results when there are some, and always the final phase and message. A
// refusal that a retry cannot change is added to the status message instead of
// holding the run in its last phase for ever.
func (s *runStep) writeResults(ctx context.Context) error {
	data := map[string]string{ResultsKeySummary: outcomeText(&s.lt.Status, "")}
	if o := s.outcome; o != nil {
		data[ResultsKeyJSON] = o.document
		data[ResultsKeySummary] = outcomeText(&s.lt.Status, o.text)
	}
	err := s.patchResults(ctx, data)
	if err != nil && permanent(err) {
		message := fmt.Sprintf("%s; the results ConfigMap %s could not be written: %v", s.lt.Status.Message, ResultsConfigMapName(s.lt), err)
		s.setPhase(s.lt.Status.Phase, s.finalReason, message)
		return nil
	}
	return err
}

func (s *runStep) patchResults(ctx context.Context, data map[string]string) error {
	patch, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	cm := BuildResultsConfigMap(s.lt)
	// A merge patch needs no resourceVersion, so the ConfigMap need not be read or cached.
	err = s.r.Patch(ctx, cm, client.RawPatch(types.MergePatchType, patch))
	if apierrors.IsNotFound(err) {
		cm = BuildResultsConfigMap(s.lt)
		cm.Data = data
		err = s.createOwned(ctx, cm)
	}
	if err != nil {
		return fmt.Errorf("writing results ConfigMap %s: %w", cm.Name, err)
	}
	return nil
}

// finish moves the test to its final phase; cleanup happens in later reconciles.
func (s *runStep) finish(phase streamreplayv1alpha1.Phase, reason, message string, verdict streamreplayv1alpha1.Verdict) {
	s.lt.Status.Verdict = verdict
	s.lt.Status.CompletionTime = ptrTime(s.now)
	s.finalReason = reason
	s.setPhase(phase, reason, message)
	s.requeueAfter = time.Millisecond
}

// signalParallelism bounds the concurrent control calls, so a test of many workers
// is signalled in a few round trips without opening hundreds of connections at once.
const signalParallelism = 32

// signalAll calls send for every pod that has not ended, in parallel, and returns the pods
// it failed for with the last error.
func (s *runStep) signalAll(send func(*member) error) ([]member, error) {
	return signalAll(s.members, send)
}

// signalAll calls send for every member whose pod has not ended, in parallel, and returns
// those it failed for with the last error.
func signalAll(ms []member, send func(*member) error) ([]member, error) {
	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		unreached []member
		lastErr   error
	)
	slots := make(chan struct{}, signalParallelism)
	for i := range ms {
		m := &ms[i]
		if m.finished() {
			continue
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if err := send(m); err != nil {
				mu.Lock()
				unreached = append(unreached, *m)
				lastErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return unreached, lastErr
}
