package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// Demo manifests, relative to the repository root.
const (
	SamplesManifest  = "config/samples/crm-cdc-samples.yaml"
	DemoManifest     = "config/sandbox/crm-cdc-demo.yaml"
	SlowDemoManifest = "config/sandbox/crm-cdc-demo-slow.yaml"
	// CapacityManifest searches for the capacity of the pipeline capped at SlowPipelineRate.
	CapacityManifest = "config/sandbox/crm-cdc-capacity.yaml"
)

// ErrNotPassed is returned by RunDemo when the LoadTest ended without a Pass.
var ErrNotPassed = errors.New("the LoadTest did not pass")

// DemoOptions configure RunDemo.
type DemoOptions struct {
	Options
	// Slow replays into the pipeline capped at SlowPipelineRate: the test fails.
	Slow bool
	// Capacity runs a capacity search against the capped pipeline instead.
	Capacity bool
	// Keep leaves the sandbox running after the verdict, until ctx ends.
	Keep bool
	// Out receives the progress lines, the results and the verdict.
	Out io.Writer
	// Timeout bounds the wait for the verdict.
	Timeout time.Duration
}

// RunDemo starts the sandbox, applies the demo LoadTest, shows its progress and prints
// its results. It returns ErrNotPassed when the verdict is not Pass.
func RunDemo(ctx context.Context, opts DemoOptions) error {
	out := opts.Out
	begin := time.Now()
	s, err := Start(ctx, opts.Options)
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Fprintf(out, "sandbox up in %s: API server, operator, pod runner, Kafka on %s, example pipelines\n",
		time.Since(begin).Round(100*time.Millisecond), strings.Join(s.Brokers, ","))

	manifest := DemoManifest
	if opts.Slow {
		manifest = SlowDemoManifest
	}
	if opts.Capacity {
		manifest = CapacityManifest
	}
	var name string
	for _, m := range []string{SamplesManifest, manifest} {
		applied, err := s.ApplyFile(ctx, filepath.Join(opts.RepoRoot, m))
		if err != nil {
			return err
		}
		for _, u := range applied {
			fmt.Fprintf(out, "applied %s/%s from %s\n", strings.ToLower(u.GetKind()), u.GetName(), m)
			if u.GetKind() == "LoadTest" {
				name = u.GetName()
			}
		}
	}
	if name == "" {
		return fmt.Errorf("%s holds no LoadTest", manifest)
	}

	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	lt, err := s.follow(waitCtx, name, out)
	if err != nil {
		return err
	}
	if err := s.printResults(ctx, lt, out); err != nil {
		return err
	}
	if opts.Keep {
		fmt.Fprintf(out, "\nThe sandbox keeps running; press Ctrl-C to stop it. Use it with:\n  export KUBECONFIG=%s\n  kubectl get loadtests\n", s.Kubeconfig)
		<-ctx.Done()
	}
	if lt.Status.Verdict != streamreplayv1alpha1.VerdictPass {
		return fmt.Errorf("%w: verdict %s (phase %s)", ErrNotPassed, lt.Status.Verdict, lt.Status.Phase)
	}
	return nil
}

// ApplyFile server-side applies every object of a YAML file in the sandbox's namespace.
func (s *Sandbox) ApplyFile(ctx context.Context, path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the sandbox's own manifests
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var applied []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := decoder.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return applied, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		u.SetNamespace(Namespace)
		if err := s.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("streamreplay-sandbox"), client.ForceOwnership); err != nil {
			return nil, fmt.Errorf("applying %s %s from %s: %w", u.GetKind(), u.GetName(), path, err)
		}
		applied = append(applied, u)
	}
}

// follow prints the LoadTest's phase changes and, while it runs, the workers' progress
// read from their metrics, until it ends.
func (s *Sandbox) follow(ctx context.Context, name string, out io.Writer) (*streamreplayv1alpha1.LoadTest, error) {
	var lastPhase streamreplayv1alpha1.Phase
	var lastMessage string
	begin := time.Now()
	var lt *streamreplayv1alpha1.LoadTest
	n := 0
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		lt = &streamreplayv1alpha1.LoadTest{}
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: name}, lt); err != nil {
			return false, fmt.Errorf("reading LoadTest %s: %w", name, err)
		}
		elapsed := time.Since(begin).Round(time.Second)
		// A capacity search says each probe in its message: show every step.
		if lt.Status.Phase != lastPhase || (lt.Spec.Capacity != nil && lt.Status.Message != lastMessage) {
			lastPhase, lastMessage = lt.Status.Phase, lt.Status.Message
			fmt.Fprintf(out, "%6s  %-9s %s\n", elapsed, lt.Status.Phase, lt.Status.Message)
		} else if lt.Status.Phase == streamreplayv1alpha1.PhaseRunning && lt.Spec.Capacity == nil && n%3 == 0 {
			if sent, acked, ok := s.workerProgress(ctx, name); ok {
				fmt.Fprintf(out, "%6s  %-9s sent %.0f, acknowledged %.0f\n", elapsed, lt.Status.Phase, sent, acked)
			}
		}
		n++
		return lt.Status.Phase.Finished(), nil
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("waiting for LoadTest %s (phase %s): %w", name, lastPhase, err)
	case err != nil:
		return nil, err // the read's error, which says so
	}
	return lt, nil
}

// workerProgress sums the workers' sent and acknowledged counters from their /metrics.
func (s *Sandbox) workerProgress(ctx context.Context, name string) (sent, acked float64, ok bool) {
	var pods corev1.PodList
	if err := s.Client.List(ctx, &pods, client.InNamespace(Namespace), client.MatchingLabels{
		controllers.LabelLoadTest: name, "app.kubernetes.io/component": string(results.RoleWorker),
	}); err != nil {
		return 0, 0, false
	}
	for _, pod := range pods.Items {
		if pod.Status.PodIP == "" {
			continue
		}
		families, err := scrape(ctx, fmt.Sprintf("http://%s:%d/metrics", pod.Status.PodIP, plan.MetricsPort))
		if err != nil {
			continue
		}
		sent += counter(families, "streamreplay_worker_records_sent_total")
		acked += counter(families, "streamreplay_worker_records_acked_total")
		ok = true
	}
	return sent, acked, ok
}

func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(bufio.NewReader(resp.Body))
}

func counter(families map[string]*dto.MetricFamily, name string) float64 {
	f, found := families[name]
	if !found {
		return 0
	}
	var total float64
	for _, m := range f.GetMetric() {
		total += m.GetCounter().GetValue()
	}
	return total
}

// printResults prints the results summary of the ConfigMap, the thresholds and the verdict.
func (s *Sandbox) printResults(ctx context.Context, lt *streamreplayv1alpha1.LoadTest, out io.Writer) error {
	var cm corev1.ConfigMap
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: lt.Status.ResultsConfigMap}, &cm); err != nil {
		return fmt.Errorf("reading the results ConfigMap: %w", err)
	}
	fmt.Fprintf(out, "\nResults (ConfigMap %s, key %s):\n\n%s\n", cm.Name, controllers.ResultsKeySummary, cm.Data[controllers.ResultsKeySummary])
	if len(lt.Status.Thresholds) > 0 {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "THRESHOLD\tMEASURED\tLIMIT\tRESULT")
		checks := append([]streamreplayv1alpha1.ThresholdCheck(nil), lt.Status.Thresholds...)
		sort.SliceStable(checks, func(i, j int) bool { return !checks[i].Passed && checks[j].Passed })
		for _, c := range checks {
			result := "pass"
			if !c.Passed {
				result = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Measured, c.Limit, result)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("printing thresholds: %w", err)
		}
	}
	fmt.Fprintf(out, "\nVerdict: %s (phase %s): %s\n", lt.Status.Verdict, lt.Status.Phase, lt.Status.Message)
	return nil
}
