package config

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The chart in dist/chart installs what config/ installs; these tests render it with the
// helm CLI (built from hack/helm's module by hack/helm.sh, or $STREAMREPLAY_HELM) and
// compare it with `kubectl kustomize config/default` (config/namespaced with
// watchNamespace), then apply it to the envtest API server.

const chartDir = "dist/chart"

var (
	helmOnce sync.Once
	helmPath string
	errHelm  error
)

// helmBinary is $STREAMREPLAY_HELM, else the pinned helm that hack/helm.sh builds once
// into ~/.cache/streamreplay/helm/<version> (about 3 minutes the first time).
func helmBinary(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		if p := os.Getenv("STREAMREPLAY_HELM"); p != "" {
			helmPath = p
			return
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("bash", repoPath("hack", "helm.sh"))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			errHelm = fmt.Errorf("hack/helm.sh: %w\n%s", err, stderr.String())
			return
		}
		helmPath = strings.TrimSpace(stdout.String())
	})
	if errHelm != nil {
		t.Fatal(errHelm)
	}
	return helmPath
}

// helmTemplate renders the chart with its CRD (crds/), as `helm install` would install it.
func helmTemplate(t *testing.T, release, namespace string, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", release, repoPath(chartDir), "--namespace", namespace, "--include-crds"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	objs, err := decodeObjects(stdout.Bytes())
	if err != nil {
		t.Fatalf("decoding helm template's output: %v", err)
	}
	return objs
}

// comparableObject strips what legitimately differs between the chart's and config/'s objects:
// the labels and annotations Helm and kustomize put on them (but RBAC aggregation labels,
// which grant rights), the chart's extra pod label app.kubernetes.io/instance, and the
// manager's imagePullPolicy (a value of the chart). Everything else must be equal: rules,
// bindings, the CRD, the Deployment's args, env, ports, probes, security context.
func comparableObject(obj *unstructured.Unstructured) *unstructured.Unstructured {
	obj = obj.DeepCopy()
	labels := map[string]string{}
	for k, v := range obj.GetLabels() {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
			labels[k] = v
		}
	}
	obj.SetLabels(labels)
	obj.SetAnnotations(nil)
	if obj.GetKind() == "Deployment" {
		unstructured.RemoveNestedField(obj.Object, "spec", "template", "metadata", "labels", "app.kubernetes.io/instance")
		containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			delete(c.(map[string]any), "imagePullPolicy")
		}
		_ = unstructured.SetNestedSlice(obj.Object, containers, "spec", "template", "spec", "containers")
	}
	return obj
}

// configDiffs compares the chart's objects with config's, one for one, equal but for
// comparableObject's differences. The operator's Namespace is Helm's (--namespace,
// --create-namespace), not the chart's.
func configDiffs(what string, chart, config []*unstructured.Unstructured) []string {
	byName := map[string]*unstructured.Unstructured{}
	for _, obj := range chart {
		byName[describe(obj)] = obj
	}
	var problems, missing, extra []string
	for _, want := range config {
		if want.GetKind() == "Namespace" {
			continue
		}
		got, ok := byName[describe(want)]
		if !ok {
			missing = append(missing, describe(want))
			continue
		}
		delete(byName, describe(want))
		want = withImage(want, defaultImage)
		if diff := cmp.Diff(comparableObject(want).Object, comparableObject(got).Object); diff != "" {
			problems = append(problems, fmt.Sprintf("%s differs between %s and the chart (-config +chart):\n%s", describe(want), what, diff))
		}
	}
	for name := range byName {
		extra = append(extra, name)
	}
	slices.Sort(extra)
	if len(missing) > 0 || len(extra) > 0 {
		problems = append(problems, fmt.Sprintf("the chart's objects differ from %s's: missing %q, extra %q", what, missing, extra))
	}
	return problems
}

// withImage is the object with the image `make deploy` sets (IMG) in place of config/'s
// placeholder controller:latest, in the manager's container and STREAMREPLAY_POD_IMAGE.
func withImage(obj *unstructured.Unstructured, image string) *unstructured.Unstructured {
	if obj.GetKind() != "Deployment" {
		return obj
	}
	obj = obj.DeepCopy()
	containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		c := c.(map[string]any)
		if c["image"] == "controller:latest" {
			c["image"] = image
		}
		env, _ := c["env"].([]any)
		for _, e := range env {
			if e := e.(map[string]any); e["value"] == "controller:latest" {
				e["value"] = image
			}
		}
	}
	_ = unstructured.SetNestedSlice(obj.Object, containers, "spec", "template", "spec", "containers")
	return obj
}

func compareWithConfig(t *testing.T, what string, chart, config []*unstructured.Unstructured) {
	t.Helper()
	for _, p := range configDiffs(what, chart, config) {
		t.Error(p)
	}
}

// TestHelmChartIsConfigDefault: with default values and release "streamreplay" in
// streamreplay-system, the chart renders config/default's objects.
func TestHelmChartIsConfigDefault(t *testing.T) {
	chart := helmTemplate(t, "streamreplay", "streamreplay-system")
	compareWithConfig(t, "config/default", chart, renderDefault(t).objs)
}

// TestHelmChartNamespacedIsConfigNamespaced: with watchNamespace, the chart renders
// config/namespaced's objects: the manager's Role and RoleBinding in that namespace.
func TestHelmChartNamespacedIsConfigNamespaced(t *testing.T) {
	chart := helmTemplate(t, "streamreplay", "streamreplay-system", "watchNamespace=team-a")
	compareWithConfig(t, "config/namespaced", chart, renderNamespaced(t, "team-a"))
}

// TestHelmChartMonitoringIsConfigPrometheus: the chart's ServiceMonitor, PodMonitor and
// PrometheusRule have config/prometheus's specs and its kube-prometheus-stack release label.
func TestHelmChartMonitoringIsConfigPrometheus(t *testing.T) {
	chart := helmTemplate(t, "streamreplay", "streamreplay-system",
		"prometheus.serviceMonitor.enabled=true", "prometheus.podMonitor.enabled=true", "prometheus.rules.enabled=true")
	want := kustomize(t, repoPath("config", "prometheus"))
	for _, kind := range []string{"ServiceMonitor", "PodMonitor", "PrometheusRule"} {
		var got, cfg []*unstructured.Unstructured
		for _, o := range chart {
			if o.GetKind() == kind {
				got = append(got, o)
			}
		}
		for _, o := range want {
			if o.GetKind() == kind {
				cfg = append(cfg, o)
			}
		}
		if len(got) != 1 || len(cfg) != 1 {
			t.Errorf("%s: the chart renders %d, config/prometheus %d; want 1 each", kind, len(got), len(cfg))
			continue
		}
		if diff := cmp.Diff(cfg[0].Object["spec"], got[0].Object["spec"]); diff != "" {
			t.Errorf("%s spec differs (-config/prometheus +chart):\n%s", kind, diff)
		}
		if got[0].GetLabels()["release"] != cfg[0].GetLabels()["release"] || got[0].GetLabels()["release"] == "" {
			t.Errorf("%s release label %q, config/prometheus's %q", kind, got[0].GetLabels()["release"], cfg[0].GetLabels()["release"])
		}
	}
	// kube-prometheus-stack's release name is a value.
	chart = helmTemplate(t, "streamreplay", "streamreplay-system", "prometheus.podMonitor.enabled=true", "prometheus.labels.release=monitoring")
	for _, o := range chart {
		if o.GetKind() == "PodMonitor" && o.GetLabels()["release"] != "monitoring" {
			t.Errorf("PodMonitor labels %v, want release=monitoring", o.GetLabels())
		}
	}
}

// TestHelmChartComparisonCatchesDrift: the comparison fails when a rule, an argument or
// the CRD differ.
func TestHelmChartComparisonCatchesDrift(t *testing.T) {
	config := renderDefault(t).objs
	for _, tc := range []struct {
		name   string
		mutate func(objs []*unstructured.Unstructured)
	}{
		{"a manager argument", func(objs []*unstructured.Unstructured) {
			for _, o := range objs {
				if o.GetKind() == "Deployment" {
					containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
					c := containers[0].(map[string]any)
					c["args"] = append(c["args"].([]any), "--enable-http2")
					_ = unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers")
				}
			}
		}},
		{"a ClusterRole rule", func(objs []*unstructured.Unstructured) {
			for _, o := range objs {
				if o.GetKind() == "ClusterRole" && strings.HasSuffix(o.GetName(), "manager-role") {
					rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
					_ = unstructured.SetNestedSlice(o.Object, append(rules, map[string]any{"apiGroups": []any{""}, "resources": []any{"nodes"}, "verbs": []any{"get"}}), "rules")
				}
			}
		}},
		{"the CRD", func(objs []*unstructured.Unstructured) {
			for _, o := range objs {
				if o.GetKind() == "CustomResourceDefinition" {
					_ = unstructured.SetNestedField(o.Object, "Cluster", "spec", "scope")
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chart := helmTemplate(t, "streamreplay", "streamreplay-system")
			tc.mutate(chart)
			if len(configDiffs("config/default", chart, config)) == 0 {
				t.Errorf("compareWithConfig passes a chart with a different %s", tc.name)
			}
		})
	}
}

// TestHelmChartOnAPIServer applies the rendered chart (default values, then namespaced)
// to the API server with server-side apply, as `helm install` creates it, and checks that
// every object is stored and that the manager's ServiceAccount gets its rights where it
// runs LoadTests only.
func TestHelmChartOnAPIServer(t *testing.T) {
	_, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		release, namespace, watch string
	}{
		{"helm-default", "helm-default-system", ""},
		{"helm-ns", "helm-ns-system", "helm-ns-loadtests"},
	} {
		t.Run(tc.release, func(t *testing.T) {
			var set []string
			namespaces := []string{tc.namespace, "helm-elsewhere-" + tc.release}
			if tc.watch != "" {
				set = append(set, "watchNamespace="+tc.watch)
				namespaces = append(namespaces, tc.watch)
			}
			for _, ns := range namespaces {
				if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
					t.Fatalf("namespace %s: %v", ns, err)
				}
			}
			objs := helmTemplate(t, tc.release, tc.namespace, set...)
			for _, obj := range objs {
				if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner("helm-test"), client.ForceOwnership); err != nil {
					t.Errorf("%s: server-side apply refused: %v", describe(obj), err)
				}
			}
			var deployment *unstructured.Unstructured
			for _, want := range objs {
				live := &unstructured.Unstructured{}
				live.SetGroupVersionKind(want.GroupVersionKind())
				if err := c.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
					t.Errorf("%s is not stored: %v", describe(want), err)
				}
				if want.GetKind() == "Deployment" {
					deployment = live
				}
			}
			if deployment == nil {
				t.Fatal("the chart renders no Deployment")
			}
			sa, _, _ := unstructured.NestedString(deployment.Object, "spec", "template", "spec", "serviceAccountName")
			runs := tc.watch
			if runs == "" {
				runs = "helm-elsewhere-" + tc.release
			}
			for _, a := range []struct {
				namespace string
				allowed   bool
			}{
				{runs, true},
				{"helm-elsewhere-" + tc.release, tc.watch == ""},
			} {
				sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
					User:   fmt.Sprintf("system:serviceaccount:%s:%s", tc.namespace, sa),
					Groups: []string{"system:serviceaccounts", "system:authenticated"},
					ResourceAttributes: &authorizationv1.ResourceAttributes{
						Namespace: a.namespace, Verb: "create", Resource: "pods",
					},
				}}
				if err := c.Create(ctx, sar); err != nil {
					t.Fatalf("SubjectAccessReview: %v", err)
				}
				if sar.Status.Allowed != a.allowed {
					t.Errorf("ServiceAccount %s/%s may create pods in %s: %t, want %t", tc.namespace, sa, a.namespace, sar.Status.Allowed, a.allowed)
				}
			}
		})
	}
}

// TestHelmChartValues: each value reaches the manager's Deployment.
func TestHelmChartValues(t *testing.T) {
	manager := func(t *testing.T, set ...string) (*renderedDefault, []*unstructured.Unstructured) {
		t.Helper()
		objs := helmTemplate(t, "streamreplay", "streamreplay-system", set...)
		r := &renderedDefault{objs: objs}
		deployments := r.ofKind("Deployment")
		if len(deployments) != 1 {
			t.Fatalf("the chart renders %d Deployments", len(deployments))
		}
		fromUnstructured(t, deployments[0], &r.deployment)
		r.manager = r.deployment.Spec.Template.Spec.Containers[0]
		return r, objs
	}
	env := func(c corev1.Container, name string) string {
		for _, e := range c.Env {
			if e.Name == name {
				return e.Value
			}
		}
		return ""
	}
	t.Run("image and pod image", func(t *testing.T) {
		r, _ := manager(t, "image.repository=registry.example/sr", "image.tag=v1.2.3")
		if r.manager.Image != "registry.example/sr:v1.2.3" || env(r.manager, "STREAMREPLAY_POD_IMAGE") != "registry.example/sr:v1.2.3" {
			t.Errorf("image %q, pod image %q; want registry.example/sr:v1.2.3 for both", r.manager.Image, env(r.manager, "STREAMREPLAY_POD_IMAGE"))
		}
		r, _ = manager(t, "image.digest=sha256:0123", "podImage=registry.example/pods:1")
		if r.manager.Image != "ghcr.io/streamreplay/streamreplay@sha256:0123" || env(r.manager, "STREAMREPLAY_POD_IMAGE") != "registry.example/pods:1" {
			t.Errorf("image %q, pod image %q", r.manager.Image, env(r.manager, "STREAMREPLAY_POD_IMAGE"))
		}
	})
	t.Run("resources", func(t *testing.T) {
		r, _ := manager(t, "resources.limits.memory=1Gi")
		if got := r.manager.Resources.Limits.Memory().String(); got != "1Gi" {
			t.Errorf("memory limit %s, want 1Gi", got)
		}
	})
	t.Run("leader election off", func(t *testing.T) {
		r, _ := manager(t, "leaderElection.enabled=false")
		if _, ok := flagValue(r.manager.Args, "leader-elect"); ok {
			t.Errorf("--leader-elect in args %q", r.manager.Args)
		}
	})
	t.Run("no per-run NetworkPolicy, no metrics policy", func(t *testing.T) {
		r, objs := manager(t, "networkPolicy.perRun=false", "networkPolicy.enabled=false")
		if _, ok := flagValue(r.manager.Args, "pod-network-policy"); ok {
			t.Errorf("--pod-network-policy in args %q", r.manager.Args)
		}
		if n := len((&renderedDefault{objs: objs}).ofKind("NetworkPolicy")); n != 0 {
			t.Errorf("%d NetworkPolicies rendered", n)
		}
	})
	t.Run("metrics namespaces", func(t *testing.T) {
		r, objs := manager(t, "networkPolicy.metricsNamespaceSelector.metrics=null", "networkPolicy.metricsNamespaceSelector.team=observability")
		if v, _ := flagValue(r.manager.Args, "metrics-namespace-selector"); v != "team=observability" {
			t.Errorf("--metrics-namespace-selector=%q, want team=observability", v)
		}
		r.objs = objs
		for _, rule := range managerRules {
			if strings.HasPrefix(rule.rule, "runs get a NetworkPolicy") {
				if err := rule.check(r); err != nil {
					t.Errorf("%s: %v", rule.rule, err)
				}
			}
		}
	})
	t.Run("metrics certificate", func(t *testing.T) {
		r, _ := manager(t, "metrics.certSecret=manager-metrics-tls")
		path, _ := flagValue(r.manager.Args, "metrics-cert-path")
		vols := r.deployment.Spec.Template.Spec.Volumes
		if path == "" || len(vols) != 1 || vols[0].Secret == nil || vols[0].Secret.SecretName != "manager-metrics-tls" ||
			len(r.manager.VolumeMounts) != 1 || r.manager.VolumeMounts[0].MountPath != path {
			t.Errorf("--metrics-cert-path=%q, volumes %+v, mounts %+v", path, vols, r.manager.VolumeMounts)
		}
	})
	t.Run("every manager rule holds with the default values", func(t *testing.T) {
		r, _ := manager(t)
		r.services = nil
		for _, obj := range r.ofKind("Service") {
			var svc corev1.Service
			fromUnstructured(t, obj, &svc)
			r.services = append(r.services, svc)
		}
		for _, rule := range managerRules {
			if err := rule.check(r); err != nil {
				t.Errorf("%s: %v", rule.rule, err)
			}
		}
	})
}

// TestHelmChartReadmeArgoCDKey: the chart's README sets the health check under the key
// config/argocd's patch of argocd-cm uses, from the file test/config checks.
func TestHelmChartReadmeArgoCDKey(t *testing.T) {
	readme := readFile(t, repoPath(chartDir, "README.md"))
	patch := readObject(t, repoPath("config", "argocd", "argocd-cm-patch.yaml"))
	data, _, _ := unstructured.NestedStringMap(patch.Object, "data")
	if len(data) != 1 {
		t.Fatalf("argocd-cm-patch.yaml has %d data keys, want the health check only", len(data))
	}
	for key := range data {
		escaped := "configs.cm." + strings.ReplaceAll(key, ".", `\.`) + "=config/argocd/health.lua"
		if !strings.Contains(readme, escaped) {
			t.Errorf("%s/README.md does not set %q", chartDir, escaped)
		}
	}
}

// TestHelmChartLongReleaseName: every name fits its kind's limit with a long release name.
func TestHelmChartLongReleaseName(t *testing.T) {
	objs := helmTemplate(t, "a-fifty-three-character-release-name-for-load-testing", "streamreplay-system")
	for _, obj := range objs {
		if len(obj.GetName()) > 63 {
			t.Errorf("%s: name of %d characters, more than 63", describe(obj), len(obj.GetName()))
		}
	}
}
