//go:build linux

// Package scale benchmarks the LoadTest controller at scale: a real API server (envtest),
// the manager as a separate process built from this module, and the benchmark playing
// the kubelet for hundreds of pods at once.
//
// Run it with `make bench-scale`, or:
//
//	KUBEBUILDER_ASSETS=$(bash hack/envtest-binaries.sh) go test ./test/scale/ -run '^$' -bench ControllerScale -benchtime 1x -timeout 30m
//
// Two variants, each with a manager of its own: "healthy", where every pod answers, and
// "one-silent", where the pods of one LoadTest accept connections and never answer (a
// hung pod): the other LoadTests' figures must not move by more than the signalling
// budget (docs/design.md, "The control protocol").
//
// It is Linux only: the manager's peak memory is read from /proc/<pid>/status (VmHWM),
// and the fake pods listen on loopback addresses other than 127.0.0.1, which Linux
// routes to lo without any setup.
package scale

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

const (
	// loadTests LoadTests of workersPerTest workers each, plus one observer pod each
	// (every LoadTest has a deadLetterQueue).
	loadTests      = 1000
	workersPerTest = 4
	podsPerTest    = workersPerTest + 1
	totalPods      = loadTests * podsPerTest

	// Parallelism of the benchmark's own writes (creates and pod status updates).
	writers = 16
	// The benchmark's client is fast enough not to be the bottleneck.
	clientQPS   = 5000
	clientBurst = 10000

	// Each LoadTest: 1000 records/s for 10s, shared by its workers.
	targetRate   = 1000
	runSeconds   = 10
	perWorker    = targetRate * runSeconds / workersPerTest
	pollInterval = 25 * time.Millisecond
	// phaseTimeout bounds each measured phase, so that a stuck controller fails the
	// benchmark with a message instead of hanging until go test's -timeout.
	phaseTimeout = 3 * time.Minute

	// silentName is the LoadTest whose pods never answer in the one-silent variant; its
	// start timeout outlasts the measured phases, so it hangs through all of them.
	silentName         = "scale-000"
	silentStartTimeout = 2 * time.Minute
)

// latencies are the acknowledgement latencies each worker reports, 5ms to 39ms in turn.
var latencies = func() []time.Duration {
	out := make([]time.Duration, 35)
	for i := range out {
		out[i] = time.Duration(5+i) * time.Millisecond
	}
	return out
}()

func BenchmarkControllerScale(b *testing.B) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		b.Fatal("KUBEBUILDER_ASSETS is not set: run `make bench`, which builds the envtest binaries and sets it " +
			"(or export KUBEBUILDER_ASSETS=$(bash hack/envtest-binaries.sh))")
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))

	// The control plane; a busy machine may need more than envtest's default 20s to start it.
	env := &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start leaves etcd and the API server running when a later step fails (the CRDs
		// refused, for example).
		_ = env.Stop()
		b.Fatalf("starting envtest: %v", err)
	}
	b.Cleanup(func() {
		if err := env.Stop(); err != nil {
			b.Errorf("stopping envtest: %v", err)
		}
	})
	// Cleanups run last first: the benchmark's watches end before the API server stops,
	// which would otherwise wait for them.
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	fast := rest.CopyConfig(cfg)
	fast.QPS, fast.Burst = clientQPS, clientBurst
	scheme := operator.NewScheme()
	k8s, err := client.New(fast, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatalf("creating client: %v", err)
	}
	// The waits read a cache fed by watches rather than polling the API server, which
	// would compete with the manager for the same two cores.
	watched, err := cache.New(fast, cache.Options{Scheme: scheme})
	if err != nil {
		b.Fatalf("creating cache: %v", err)
	}
	go func() { _ = watched.Start(ctx) }()
	for _, obj := range []client.Object{&corev1.Pod{}, &corev1.ConfigMap{}, &streamreplayv1alpha1.LoadTest{}} {
		if _, err := watched.GetInformer(ctx, obj); err != nil {
			b.Fatalf("watching %T: %v", obj, err)
		}
	}
	if !watched.WaitForCacheSync(ctx) {
		b.Fatal("the benchmark's cache did not sync")
	}

	// The fake pods' control ports, one listener per pod address.
	pods := newFakePods(b)

	// The manager, as its own process.
	dir := b.TempDir()
	bin := filepath.Join(dir, "streamreplay")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, filepath.Join("..", ".."))
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building the manager: %v\n%s", err, out)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		b.Fatalf("writing kubeconfig: %v", err)
	}

	floor := childrenFloor(ctx, b, k8s)
	b.Logf("floor: the API server alone takes %.1fs to create the %d children of %d LoadTests (%d writers)",
		floor.Seconds(), loadTests*childrenPerTest, loadTests, writers)

	for _, variant := range []struct {
		name   string
		silent bool
	}{{"healthy", false}, {"one-silent", true}} {
		b.Run(variant.name, func(b *testing.B) {
			var total phaseTimes
			var peakKiB int64
			for i := range b.N {
				b.StopTimer()
				namespace := fmt.Sprintf("scale-%s-%d", variant.name, i)
				mgr := startManager(b, bin, kubeconfig, filepath.Join(dir, namespace+".log"), namespace)
				r := &round{b: b, ctx: ctx, k8s: k8s, cache: watched, pods: pods, mgr: mgr, namespace: namespace}
				if variant.silent {
					r.silent = silentPods(b)
				}
				cpu0, err := mgr.cpuTime()
				if err != nil {
					b.Fatalf("reading the manager's CPU time: %v", err)
				}
				profiled := startProfile(b, filepath.Join(os.Getenv(envProfile), namespace+".cpu.pprof"))
				b.StartTimer()
				phases := r.run()
				b.StopTimer()
				profiled()
				cpu1, err := mgr.cpuTime()
				if err != nil {
					b.Fatalf("reading the manager's CPU time: %v", err)
				}
				phases.managerCPU = cpu1 - cpu0
				total.add(phases)
				peak, err := mgr.peakRSS()
				if err != nil {
					b.Fatalf("reading the manager's peak RSS: %v", err)
				}
				peakKiB = max(peakKiB, peak)
				if err := mgr.stop(); err != nil {
					b.Errorf("manager did not stop cleanly on SIGTERM: %v\n%s", err, mgr.logTail(40))
				}
			}
			total.report(b, variant.name, float64(peakKiB)/1024, floor)
		})
	}
}

// phaseTimes are the three measured phases of a round. Each total counts from the
// benchmark's first write of the phase, so started and verdicts include the time the
// benchmark takes to write 5,000 pod statuses while the manager works (on two cores, much
// of it). The per-LoadTest figures count from the benchmark's last write for that
// LoadTest (its create, its last pod Ready, its last pod terminated) until the benchmark's
// cache first showed it done (polled every pollInterval).
type phaseTimes struct {
	// children: from the first create until every pod and results ConfigMap exists.
	children time.Duration
	// started: from the first pod marked Ready until every LoadTest is Started.
	started time.Duration
	// verdicts: from the first pod marked terminated until every LoadTest is finished.
	verdicts time.Duration
	// The per-LoadTest latencies of each phase, over all rounds.
	perChildren, perStarted, perVerdict []time.Duration
	// managerCPU: the manager process's CPU time (user and system) during the round.
	managerCPU time.Duration
	rounds     int
}

func (p *phaseTimes) add(o phaseTimes) {
	p.children += o.children
	p.started += o.started
	p.verdicts += o.verdicts
	p.managerCPU += o.managerCPU
	p.perChildren = append(p.perChildren, o.perChildren...)
	p.perStarted = append(p.perStarted, o.perStarted...)
	p.perVerdict = append(p.perVerdict, o.perVerdict...)
	p.rounds++
}

// report prints the figures of a variant and reports them as the benchmark's metrics.
func (p *phaseTimes) report(b *testing.B, variant string, peakMiB float64, floor time.Duration) {
	n := float64(p.rounds)
	children, started, verdicts := p.children.Seconds()/n, p.started.Seconds()/n, p.verdicts.Seconds()/n
	b.ReportMetric(children, "s-children")
	b.ReportMetric(children/floor.Seconds(), "children-vs-floor")
	b.ReportMetric(started, "s-started")
	b.ReportMetric(verdicts, "s-verdict")
	b.ReportMetric(percentile(p.perStarted, 0.99).Seconds(), "s-started-p99")
	b.ReportMetric(percentile(p.perVerdict, 0.99).Seconds(), "s-verdict-p99")
	b.ReportMetric(peakMiB, "manager-peak-rss-MiB")
	cpu := p.managerCPU.Seconds() / n
	b.ReportMetric(cpu, "manager-cpu-s")
	b.Logf("scale %s: %d LoadTests x %d workers: all children in %.1fs (per LoadTest p50 %.2fs p99 %.2fs), "+
		"all started in %.1fs (p50 %.2fs p99 %.2fs), all verdicts in %.1fs after pods finished (p50 %.2fs p99 %.2fs), "+
		"manager peak RSS %.0f MiB, manager CPU %.1fs per round",
		variant, loadTests, workersPerTest,
		children, percentile(p.perChildren, 0.5).Seconds(), percentile(p.perChildren, 0.99).Seconds(),
		started, percentile(p.perStarted, 0.5).Seconds(), percentile(p.perStarted, 0.99).Seconds(),
		verdicts, percentile(p.perVerdict, 0.5).Seconds(), percentile(p.perVerdict, 0.99).Seconds(), peakMiB, cpu)
}

// percentile is the nearest-rank q-quantile of ds; 0 when ds is empty.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// perLoadTest are, for each LoadTest in seen, the time from its trigger to when it was seen.
func perLoadTest(trigger, seen map[string]time.Time) []time.Duration {
	out := make([]time.Duration, 0, len(seen))
	for name, at := range seen {
		if t, ok := trigger[name]; ok {
			out = append(out, at.Sub(t))
		}
	}
	return out
}

// marks records, per LoadTest, the last time the benchmark wrote for it.
type marks struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (m *marks) mark(name string) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.at == nil {
		m.at = map[string]time.Time{}
	}
	m.at[name] = now
}

// round is one run of the scenario in its own namespace.
type round struct {
	b         *testing.B
	ctx       context.Context
	k8s       client.Client
	cache     cache.Cache
	pods      *fakePods
	mgr       *managerProcess
	namespace string
	// silent, when set, plays the pods of silentName: they never answer.
	silent *fakepods.SilentPods
}

func (r *round) run() phaseTimes {
	b := r.b
	var times phaseTimes
	if err := r.k8s.Create(r.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.namespace}}); err != nil {
		b.Fatalf("creating namespace %s: %v", r.namespace, err)
	}
	// The LoadTests name this ConfigMap; without it the controller ends them Error.
	if err := r.k8s.Create(r.ctx, fakepods.SamplesConfigMap(r.namespace)); err != nil {
		b.Fatalf("creating the sample ConfigMap in %s: %v", r.namespace, err)
	}

	// 1. Every LoadTest at once; the controller creates the children.
	var created marks
	seen := map[string]time.Time{}
	begin := time.Now()
	parallel(b, loadTests, func(i int) error {
		lt := newLoadTest(r.namespace, i)
		if r.silent != nil && lt.Name == silentName {
			lt.Spec.Timeouts.Start = &metav1.Duration{Duration: silentStartTimeout}
		}
		if err := r.k8s.Create(r.ctx, lt); err != nil {
			return err
		}
		created.mark(lt.Name)
		return nil
	})
	r.waitFor("every pod and results ConfigMap to exist", func() (bool, string, error) {
		var pods corev1.PodList
		if err := r.cache.List(r.ctx, &pods, client.InNamespace(r.namespace), client.HasLabels{controllers.LabelLoadTest}, client.UnsafeDisableDeepCopy); err != nil {
			return false, "", err
		}
		var cms corev1.ConfigMapList
		if err := r.cache.List(r.ctx, &cms, client.InNamespace(r.namespace), client.HasLabels{controllers.LabelLoadTest}, client.UnsafeDisableDeepCopy); err != nil {
			return false, "", err
		}
		if len(pods.Items) > totalPods {
			return false, "", fmt.Errorf("%d pods, more than the %d expected", len(pods.Items), totalPods)
		}
		now := time.Now()
		children := map[string]int{}
		for i := range pods.Items {
			children[pods.Items[i].Labels[controllers.LabelLoadTest]]++
		}
		for i := range cms.Items {
			children[cms.Items[i].Labels[controllers.LabelLoadTest]]++
		}
		for name, n := range children {
			if _, ok := seen[name]; !ok && n == podsPerTest+1 {
				seen[name] = now
			}
		}
		return len(pods.Items) == totalPods && len(cms.Items) == loadTests,
			fmt.Sprintf("%d/%d pods, %d/%d ConfigMaps", len(pods.Items), totalPods, len(cms.Items), loadTests), nil
	})
	times.children = time.Since(begin)
	times.perChildren = perLoadTest(created.at, seen)

	// 2. Play the kubelet: every pod Ready on its own address; the controller sends /start.
	var list corev1.PodList
	if err := r.cache.List(r.ctx, &list, client.InNamespace(r.namespace), client.HasLabels{controllers.LabelLoadTest}); err != nil {
		b.Fatalf("listing pods: %v", err)
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	ips := slices.Clone(r.pods.ips)
	if r.silent != nil {
		silentAddresses := fakepods.NewAddressPool(fakepods.ScaleSilentAddresses)
		for i := range pods {
			if r.silentPod(&pods[i]) {
				ips[i] = silentAddresses.Next()
				if err := r.silent.Serve(ips[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	r.pods.expect(pods, r.silentPod)
	var ready marks
	begin = time.Now()
	parallel(b, len(pods), func(i int) error {
		if err := fakepods.MarkReady(r.ctx, r.k8s, &pods[i], ips[i]); err != nil {
			return err
		}
		ready.mark(pods[i].Labels[controllers.LabelLoadTest])
		return nil
	})
	seen = map[string]time.Time{}
	r.waitFor("every LoadTest to be Started", r.allLoadTests(seen, func(lt *streamreplayv1alpha1.LoadTest) bool {
		return meta.IsStatusConditionTrue(lt.Status.Conditions, streamreplayv1alpha1.ConditionStarted)
	}))
	times.started = time.Since(begin)
	times.perStarted = perLoadTest(ready.at, seen)
	if missing := r.pods.notStarted(); len(missing) > 0 {
		b.Fatalf("every LoadTest is Started, but %d pods got no /start with their run id, e.g. %s", len(missing), strings.Join(missing[:min(5, len(missing))], ", "))
	}

	// 3. Play the kubelet: every pod ends with its results; the controller writes verdicts.
	// The silent LoadTest's pods keep running: they never got the start time.
	var lts streamreplayv1alpha1.LoadTestList
	if err := r.cache.List(r.ctx, &lts, client.InNamespace(r.namespace)); err != nil {
		b.Fatalf("listing LoadTests: %v", err)
	}
	byName := map[string]*streamreplayv1alpha1.LoadTest{}
	for i := range lts.Items {
		byName[lts.Items[i].Name] = &lts.Items[i]
	}
	var terminated marks
	begin = time.Now()
	parallel(b, len(pods), func(i int) error {
		pod := &pods[i]
		if r.silentPod(pod) {
			return nil
		}
		lt := byName[pod.Labels[controllers.LabelLoadTest]]
		if lt == nil || lt.Status.StartTime == nil {
			return fmt.Errorf("pod %s: its LoadTest has no start time", pod.Name)
		}
		report, err := podReport(lt, pod)
		if err != nil {
			return err
		}
		if err := fakepods.UpdateStatus(r.ctx, r.k8s, pod, func(p *corev1.Pod) { fakepods.SetTerminated(p, 0, report) }); err != nil {
			return err
		}
		terminated.mark(lt.Name)
		return nil
	})
	seen = map[string]time.Time{}
	r.waitFor("every LoadTest to finish", r.allLoadTests(seen, func(lt *streamreplayv1alpha1.LoadTest) bool {
		return lt.Status.Phase.Finished()
	}))
	times.verdicts = time.Since(begin)
	times.perVerdict = perLoadTest(terminated.at, seen)

	if err := r.cache.List(r.ctx, &lts, client.InNamespace(r.namespace)); err != nil {
		b.Fatalf("listing LoadTests: %v", err)
	}
	var wrong []string
	for _, lt := range lts.Items {
		if r.silent != nil && lt.Name == silentName {
			continue
		}
		if lt.Status.Phase != streamreplayv1alpha1.PhasePassed || lt.Status.Verdict != streamreplayv1alpha1.VerdictPass {
			wrong = append(wrong, fmt.Sprintf("%s: phase %s, verdict %s: %s", lt.Name, lt.Status.Phase, lt.Status.Verdict, lt.Status.Message))
		}
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		b.Fatalf("%d of %d LoadTests did not pass:\n  %s", len(wrong), len(lts.Items), strings.Join(wrong[:min(10, len(wrong))], "\n  "))
	}
	if r.silent != nil {
		r.expectSilentTimedOut(pods, ips)
	}
	return times
}

// silentPod tells whether pod belongs to the LoadTest whose pods never answer.
func (r *round) silentPod(pod *corev1.Pod) bool {
	return r.silent != nil && pod.Labels[controllers.LabelLoadTest] == silentName
}

// expectSilentTimedOut waits for the silent LoadTest to end as the protocol says, in
// Error (StartTimeout) naming its pods, and logs how often it was signalled meanwhile.
func (r *round) expectSilentTimedOut(pods []corev1.Pod, ips []string) {
	b := r.b
	var lt streamreplayv1alpha1.LoadTest
	r.waitFor(silentName+" to end in StartTimeout", func() (bool, string, error) {
		if err := r.cache.Get(r.ctx, client.ObjectKey{Namespace: r.namespace, Name: silentName}, &lt); err != nil {
			return false, "", err
		}
		return lt.Status.Phase.Finished(), string(lt.Status.Phase), nil
	})
	if lt.Status.Phase != streamreplayv1alpha1.PhaseError || !strings.Contains(lt.Status.Message, "could not deliver the start signal") ||
		!strings.Contains(lt.Status.Message, silentName+"-worker-0") {
		b.Fatalf("%s ended %s (%s), want Error naming its unreachable pods", silentName, lt.Status.Phase, lt.Status.Message)
	}
	calls := 0
	for i := range pods {
		if r.silentPod(&pods[i]) {
			calls += r.silent.Accepted(ips[i])
		}
	}
	b.Logf("scale one-silent: %s ended %s %s after its start time was fixed (%d calls to its %d pods meanwhile)",
		silentName, lt.Status.Phase, lt.Status.CompletionTime.Sub(lt.Status.StartTime.Time)+time.Second, calls, podsPerTest)
}

// allLoadTests is a waitFor condition: every LoadTest of the round but the silent one
// satisfies done; seen gets the time each was first found done. A LoadTest that finished
// any other way than Passed fails the benchmark at once.
func (r *round) allLoadTests(seen map[string]time.Time, done func(*streamreplayv1alpha1.LoadTest) bool) func() (bool, string, error) {
	return func() (bool, string, error) {
		var lts streamreplayv1alpha1.LoadTestList
		if err := r.cache.List(r.ctx, &lts, client.InNamespace(r.namespace), client.UnsafeDisableDeepCopy); err != nil {
			return false, "", err
		}
		now := time.Now()
		n, want := 0, loadTests
		phases := map[streamreplayv1alpha1.Phase]int{}
		for i := range lts.Items {
			lt := &lts.Items[i]
			if r.silent != nil && lt.Name == silentName {
				want--
				continue
			}
			if lt.Status.Phase.Finished() && lt.Status.Phase != streamreplayv1alpha1.PhasePassed {
				return false, "", fmt.Errorf("LoadTest %s ended %s (verdict %s): %s", lt.Name, lt.Status.Phase, lt.Status.Verdict, lt.Status.Message)
			}
			phases[lt.Status.Phase]++
			if done(lt) {
				n++
				if _, ok := seen[lt.Name]; !ok {
					seen[lt.Name] = now
				}
			}
		}
		return n == want, fmt.Sprintf("%d/%d done; phases %v", n, want, phases), nil
	}
}

// waitFor polls check (which reads the cache) until it reports done, fails, the manager
// exits or phaseTimeout passes.
func (r *round) waitFor(what string, check func() (done bool, state string, err error)) {
	r.b.Helper()
	var state string
	var failed error // check's or the manager's error, told apart from the timeout
	err := wait.PollUntilContextTimeout(context.Background(), pollInterval, phaseTimeout, true, func(context.Context) (bool, error) {
		done, s, err := check()
		state = s
		if err == nil && !done && r.mgr.exited() {
			err = fmt.Errorf("the manager exited (%s): %w\n%s", state, r.mgr.waitErr, r.mgr.logTail(40))
		}
		failed = err
		return done, err
	})
	switch {
	case failed != nil:
		r.b.Fatalf("waiting for %s: %v", what, failed)
	case err != nil:
		r.b.Fatalf("waiting for %s: still not done after %s: %s\nmanager log:\n%s", what, phaseTimeout, state, r.mgr.logTail(20))
	}
}

// parallel runs do(0..n-1) from a few goroutines and fails the benchmark on the first error.
func parallel(b *testing.B, n int, do func(i int) error) {
	b.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range writers {
		wg.Go(func() {
			for i := range next {
				if err := do(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

// newLoadTest is a small passing test: 4 workers, a DLQ (so an observer pod) and thresholds.
func newLoadTest(namespace string, i int) *streamreplayv1alpha1.LoadTest {
	lt := fakepods.NewLoadTest(fmt.Sprintf("scale-%03d", i), workersPerTest, targetRate)
	lt.Namespace = namespace
	lt.Spec.Duration = &metav1.Duration{Duration: runSeconds * time.Second}
	return lt
}

// envProfile names a folder: when set, the manager serves pprof and the benchmark saves a
// CPU profile of each round there (<namespace>.cpu.pprof), for `go tool pprof`.
const (
	envProfile = "STREAMREPLAY_SCALE_PROFILE"
	pprofAddr  = "127.0.0.1:6065"
	// profileSeconds covers the three phases of a round on two cores.
	profileSeconds = 120
)

// startProfile fetches a CPU profile of the manager during the round when envProfile is
// set; the function it returns waits for it and writes it to path.
func startProfile(b *testing.B, path string) func() {
	if os.Getenv(envProfile) == "" {
		return func() {}
	}
	got := make(chan error, 1)
	go func() {
		got <- func() error {
			resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, profileSeconds))
			if err != nil {
				return err
			}
			defer func() { _ = resp.Body.Close() }()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /debug/pprof/profile: %s", resp.Status)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			return os.WriteFile(path, body, 0o600)
		}()
	}()
	return func() {
		if err := <-got; err != nil {
			b.Errorf("profiling the manager: %v", err)
			return
		}
		b.Logf("CPU profile of the manager: %s", path)
	}
}

// childrenPerTest is what the controller creates for one LoadTest: its pods, the results
// ConfigMap and the control Secret (the benchmark's manager makes no NetworkPolicies).
const childrenPerTest = podsPerTest + 2

// childrenFloor is how long the API server takes to create the children of every
// LoadTest when the benchmark writes them itself, from the controller's own builders, as
// fast as its writers go: the least the children phase can take on this machine, whatever
// the controller does.
func childrenFloor(ctx context.Context, b *testing.B, k8s client.Client) time.Duration {
	b.Helper()
	const namespace = "scale-floor"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		b.Fatalf("creating namespace %s: %v", namespace, err)
	}
	begin := time.Now()
	parallel(b, loadTests, func(i int) error {
		lt := newLoadTest(namespace, i)
		lt.UID = types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
		children := []client.Object{controllers.BuildResultsConfigMap(lt), controllers.BuildControlSecret(lt, "token")}
		for w := range int32(workersPerTest) {
			pod, err := controllers.BuildWorkerPod(lt, w, "streamreplay:bench")
			if err != nil {
				return err
			}
			children = append(children, pod)
		}
		pod, err := controllers.BuildObserverPod(lt, "streamreplay:bench")
		if err != nil {
			return err
		}
		for _, obj := range append(children, pod) {
			if err := k8s.Create(ctx, obj); err != nil {
				return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
			}
		}
		return nil
	})
	return time.Since(begin)
}

// podReport is the termination message of a pod that did its share of the run well.
func podReport(lt *streamreplayv1alpha1.LoadTest, pod *corev1.Pod) (string, error) {
	if pod.Labels[controllers.LabelComponent] == string(results.RoleObserver) {
		return fakepods.ObserverReport(lt, pod.Name, 0)
	}
	index, err := strconv.Atoi(pod.Labels[controllers.LabelWorkerIndex])
	if err != nil {
		return "", fmt.Errorf("pod %s: worker index label: %w", pod.Name, err)
	}
	return fakepods.WorkerReport(lt, fakepods.Worker{
		Pod: pod.Name, Index: index, Scheduled: perWorker, Acked: perWorker, Latencies: latencies,
	})
}

// silentPods play the pods of silentName in the one-silent variant.
func silentPods(b *testing.B) *fakepods.SilentPods {
	s := fakepods.NewSilentPods()
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// fakePods are the fake pods' addresses, each with its control port, listening for the
// whole benchmark; each round gives them to its pods in name order.
type fakePods struct {
	control *fakepods.ControlServer
	ips     []string // the address of the i-th pod, in name order

	mu    sync.Mutex
	want  map[string]string // address -> run id the pod there belongs to
	names map[string]string // address -> pod name
}

func newFakePods(b *testing.B) *fakePods {
	// The manager process keeps its key in a Secret: the fake pods do not check tokens.
	f := &fakePods{control: fakepods.NewControlServer(nil), ips: make([]string, totalPods)}
	b.Cleanup(func() { _ = f.control.Close() })
	addresses := fakepods.NewAddressPool(fakepods.ScaleAddresses)
	for i := range f.ips {
		f.ips[i] = addresses.Next()
		if err := f.control.Serve(f.ips[i]); err != nil {
			b.Fatalf("%v (another scale benchmark running?)", err)
		}
	}
	return f
}

// expect records which run each address serves this round, in the order of pods, but
// for the pods skip names (they are not served here).
func (f *fakePods) expect(pods []corev1.Pod, skip func(*corev1.Pod) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.want, f.names = map[string]string{}, map[string]string{}
	for i := range pods {
		if skip(&pods[i]) {
			continue
		}
		f.want[f.ips[i]] = pods[i].Labels[controllers.LabelRunID]
		f.names[f.ips[i]] = pods[i].Name
	}
}

// notStarted names the pods whose last /start was missing or for another run.
func (f *fakePods) notStarted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for ip, run := range f.want {
		if calls := f.control.StartCalls(ip); len(calls) == 0 || calls[len(calls)-1].RunID != run {
			out = append(out, fmt.Sprintf("%s (%s)", f.names[ip], ip))
		}
	}
	sort.Strings(out)
	return out
}

// managerProcess is `streamreplay manager` running against envtest.
type managerProcess struct {
	cmd      *exec.Cmd
	logPath  string
	done     chan struct{} // closed when the process has exited
	waitErr  error         // set before done is closed
	stopOnce sync.Once
	stopErr  error
}

func startManager(b *testing.B, bin, kubeconfig, logPath, namespace string) *managerProcess {
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatalf("creating manager log: %v", err)
	}
	b.Cleanup(func() { _ = logFile.Close() })
	args := []string{"manager",
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--pod-image=streamreplay:bench", "--start-lead=1s", "--control-key-namespace=default",
		"--watch-namespace=" + namespace}
	if os.Getenv(envProfile) != "" {
		args = append(args, "--pprof-bind-address="+pprofAddr)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Should the benchmark itself die (go test's -timeout panics without cleanup), the
	// kernel kills the manager too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the manager: %v", err)
	}
	m := &managerProcess{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		m.waitErr = cmd.Wait()
		close(m.done)
	}()
	b.Cleanup(func() { _ = m.stop() })

	// Ready when the controller's workers run (controller-runtime logs "Starting workers"
	// once the caches synced), so that the measured phases exclude the manager's start.
	errExited := errors.New("the manager exited")
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		if bytes.Contains(m.log(), []byte("Starting workers")) {
			return true, nil
		}
		if m.exited() {
			return false, errExited
		}
		return false, nil
	}); err != nil {
		if errors.Is(err, errExited) {
			b.Fatalf("the manager exited at start: %v\n%s", m.waitErr, m.logTail(40))
		}
		b.Fatalf("the manager did not start its controller within a minute:\n%s", m.logTail(40))
	}
	return m
}

func (m *managerProcess) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits for a clean exit; after 20s it kills the process.
func (m *managerProcess) stop() error {
	m.stopOnce.Do(func() {
		if m.exited() {
			m.stopErr = fmt.Errorf("it had already exited: %w", m.waitErr)
			return
		}
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
			m.stopErr = m.waitErr
		case <-time.After(20 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.done
			m.stopErr = errors.New("still running 20s after SIGTERM; killed")
		}
	})
	return m.stopErr
}

// peakRSS is the process's peak resident set size (VmHWM) in KiB.
func (m *managerProcess) peakRSS() (int64, error) {
	if m.exited() {
		return 0, fmt.Errorf("the manager has exited: %w", m.waitErr)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM line in /proc/<pid>/status")
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, 100 on every Linux
// architecture the project builds for.
const userHZ = 100

// cpuTime is the CPU time the process used so far, user and system (/proc/<pid>/stat).
func (m *managerProcess) cpuTime() (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: the fields count after it.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name in /proc/%d/stat", m.cmd.Process.Pid)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat has %d fields after the command name, want 13 or more", m.cmd.Process.Pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15 of stat(5)
		t, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading CPU time in /proc/%d/stat: %w", m.cmd.Process.Pid, err)
		}
		ticks += t
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

func (m *managerProcess) log() []byte {
	data, _ := os.ReadFile(m.logPath)
	return data
}

// logTail is the last n lines of the manager's log, for failure messages.
func (m *managerProcess) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(string(m.log()), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
