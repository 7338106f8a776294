package config

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// renderedDefault is `kubectl kustomize config/default`: what `make deploy` installs.
type renderedDefault struct {
	objs       []*unstructured.Unstructured
	deployment appsv1.Deployment
	manager    corev1.Container
	services   []corev1.Service
}

func renderDefault(t *testing.T) *renderedDefault {
	t.Helper()
	r := &renderedDefault{objs: kustomize(t, repoPath("config", "default"))}
	deployments := r.ofKind("Deployment")
	if len(deployments) != 1 {
		t.Fatalf("config/default renders %d Deployments, want the manager's only", len(deployments))
	}
	fromUnstructured(t, deployments[0], &r.deployment)
	i := slices.IndexFunc(r.deployment.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == "manager" })
	if i < 0 {
		t.Fatalf("Deployment %s has no container named manager", r.deployment.Name)
	}
	r.manager = r.deployment.Spec.Template.Spec.Containers[i]
	for _, obj := range r.ofKind("Service") {
		var svc corev1.Service
		fromUnstructured(t, obj, &svc)
		r.services = append(r.services, svc)
	}
	return r
}

func (r *renderedDefault) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range r.objs {
		if obj.GetKind() == kind {
			out = append(out, obj)
		}
	}
	return out
}

func fromUnstructured(t *testing.T, obj *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, into, true); err != nil {
		t.Fatalf("%s: %v", describe(obj), err)
	}
}

// flagValue is the value of --name in args: "true" for a bare boolean flag, "" when absent.
func flagValue(args []string, name string) (string, bool) {
	for _, arg := range args {
		switch {
		case arg == "--"+name:
			return "true", true
		case strings.HasPrefix(arg, "--"+name+"="):
			return strings.TrimPrefix(arg, "--"+name+"="), true
		}
	}
	return "", false
}

// bindPort is the port of a bind address such as ":8080".
func bindPort(addr string) (int32, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		return 0, err
	}
	return int32(n), nil
}

// containerPort resolves a probe's or a Service's target port against the container's ports.
func containerPort(c *corev1.Container, port intstr.IntOrString) (int32, bool) {
	if port.Type == intstr.Int {
		return port.IntVal, true
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// managerRules are the rules the manager's Deployment must meet, each a check of the
// rendered config/default.
var managerRules = []struct {
	rule  string
	check func(r *renderedDefault) error
}{
	{"runs as non-root", func(r *renderedDefault) error {
		sc, psc := r.securityContexts()
		if ptrTrue(sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && ptrTrue(psc.RunAsNonRoot)) {
			return nil
		}
		return fmt.Errorf("runAsNonRoot is not true (pod %v, container %v)", psc.RunAsNonRoot, sc.RunAsNonRoot)
	}},
	{"seccomp profile RuntimeDefault", func(r *renderedDefault) error {
		sc, psc := r.securityContexts()
		profile := sc.SeccompProfile
		if profile == nil {
			profile = psc.SeccompProfile
		}
		if profile == nil || profile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			return fmt.Errorf("seccompProfile is %+v, want type RuntimeDefault", profile)
		}
		return nil
	}},
	{"no privilege escalation", func(r *renderedDefault) error {
		sc, _ := r.securityContexts()
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			return fmt.Errorf("allowPrivilegeEscalation is %v, want false", sc.AllowPrivilegeEscalation)
		}
		return nil
	}},
	{"drops ALL capabilities, adds none", func(r *renderedDefault) error {
		sc, _ := r.securityContexts()
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			return fmt.Errorf("capabilities are %+v, want drop [ALL]", sc.Capabilities)
		}
		return nil
	}},
	{"read-only root filesystem", func(r *renderedDefault) error {
		sc, _ := r.securityContexts()
		if !ptrTrue(sc.ReadOnlyRootFilesystem) {
			return fmt.Errorf("readOnlyRootFilesystem is %v, want true", sc.ReadOnlyRootFilesystem)
		}
		return nil
	}},
	{"CPU and memory requests and limits", func(r *renderedDefault) error {
		var missing []string
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := r.manager.Resources.Requests[name]; !ok {
				missing = append(missing, "requests."+string(name))
			}
			if _, ok := r.manager.Resources.Limits[name]; !ok {
				missing = append(missing, "limits."+string(name))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no %s", strings.Join(missing, ", "))
		}
		return nil
	}},
	{"liveness probe on the health port", func(r *renderedDefault) error {
		return r.checkProbe("liveness", r.manager.LivenessProbe)
	}},
	{"readiness probe on the health port", func(r *renderedDefault) error {
		return r.checkProbe("readiness", r.manager.ReadinessProbe)
	}},
	{"leader election", func(r *renderedDefault) error {
		if v, _ := flagValue(r.manager.Args, "leader-elect"); v != "true" {
			return fmt.Errorf("--leader-elect is not set in args %q", r.manager.Args)
		}
		return nil
	}},
	{"metrics over HTTPS with authentication and authorization", func(r *renderedDefault) error {
		if v, ok := flagValue(r.manager.Args, "metrics-secure"); !ok || v != "true" {
			return fmt.Errorf("--metrics-secure is not set in args %q", r.manager.Args)
		}
		if v, _ := flagValue(r.manager.Args, "enable-http2"); v == "true" {
			return fmt.Errorf("--enable-http2 is set in args %q", r.manager.Args)
		}
		return nil
	}},
	{"metrics port declared and served by the metrics Service", func(r *renderedDefault) error {
		port, err := r.boundPort("metrics-bind-address")
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(r.manager.Ports, func(p corev1.ContainerPort) bool { return p.Name == "https" && p.ContainerPort == port }) {
			return fmt.Errorf("no container port named https with number %d in %+v", port, r.manager.Ports)
		}
		for _, svc := range r.services {
			if !selects(svc.Spec.Selector, r.deployment.Spec.Template.Labels) {
				continue
			}
			for _, p := range svc.Spec.Ports {
				if target, ok := containerPort(&r.manager, p.TargetPort); ok && target == port {
					return nil
				}
			}
		}
		return fmt.Errorf("no Service selects the manager's pods on its metrics port %d", port)
	}},
	{"runs get a NetworkPolicy that lets in the manager's pods and the monitoring namespaces", func(r *renderedDefault) error {
		if v, _ := flagValue(r.manager.Args, "pod-network-policy"); v != "true" {
			return fmt.Errorf("--pod-network-policy is not set in args %q", r.manager.Args)
		}
		raw, _ := flagValue(r.manager.Args, "operator-pod-labels")
		podLabels, err := labels.ConvertSelectorToLabelsMap(raw)
		if err != nil {
			return fmt.Errorf("--operator-pod-labels=%q: %w", raw, err)
		}
		if len(podLabels) == 0 || !labels.SelectorFromSet(podLabels).Matches(labels.Set(r.deployment.Spec.Template.Labels)) {
			return fmt.Errorf("--operator-pod-labels=%q does not select the manager's pods %v: the runs would refuse the operator", raw, r.deployment.Spec.Template.Labels)
		}
		raw, _ = flagValue(r.manager.Args, "metrics-namespace-selector")
		if raw == "" {
			return errors.New("--metrics-namespace-selector is not set: every namespace could scrape the runs")
		}
		runs, err := metav1.ParseToLabelSelector(raw)
		if err != nil {
			return fmt.Errorf("--metrics-namespace-selector=%q: %w", raw, err)
		}
		// The manager's own metrics are open to the same namespaces.
		for _, obj := range r.ofKind("NetworkPolicy") {
			var np networkingv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &np); err != nil {
				return err
			}
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err != nil || np.Namespace != r.deployment.Namespace || !sel.Matches(labels.Set(r.deployment.Spec.Template.Labels)) {
				continue
			}
			for _, rule := range np.Spec.Ingress {
				for _, from := range rule.From {
					if from.NamespaceSelector == nil || from.PodSelector != nil {
						return fmt.Errorf("NetworkPolicy %s lets in %+v: want namespaces only", np.Name, from)
					}
					if !cmp.Equal(runs, from.NamespaceSelector, cmpopts.EquateEmpty()) {
						return fmt.Errorf("the runs' metrics are open to namespaces %v, the manager's (NetworkPolicy %s) to %v: keep them equal", runs, np.Name, from.NamespaceSelector)
					}
				}
			}
			return nil
		}
		return errors.New("no NetworkPolicy selects the manager's pods")
	}},
	{"pods of a run get the manager's image", func(r *renderedDefault) error {
		for _, e := range r.manager.Env {
			if e.Name == "STREAMREPLAY_POD_IMAGE" {
				if e.Value != r.manager.Image {
					return fmt.Errorf("STREAMREPLAY_POD_IMAGE is %q, not the manager's image %q", e.Value, r.manager.Image)
				}
				return nil
			}
		}
		return fmt.Errorf("no STREAMREPLAY_POD_IMAGE in env %+v", r.manager.Env)
	}},
}

// securityContexts are the manager container's and its pod's, empty when unset.
func (r *renderedDefault) securityContexts() (*corev1.SecurityContext, *corev1.PodSecurityContext) {
	sc, psc := r.manager.SecurityContext, r.deployment.Spec.Template.Spec.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	return sc, psc
}

// boundPort is the port the manager binds, from one of its address flags.
func (r *renderedDefault) boundPort(flag string) (int32, error) {
	addr, ok := flagValue(r.manager.Args, flag)
	if !ok {
		return 0, fmt.Errorf("no --%s in args %q", flag, r.manager.Args)
	}
	port, err := bindPort(addr)
	if err != nil {
		return 0, fmt.Errorf("--%s=%s: %w", flag, addr, err)
	}
	if port == 0 {
		return 0, fmt.Errorf("--%s=%s does not bind a port", flag, addr)
	}
	return port, nil
}

func (r *renderedDefault) checkProbe(name string, probe *corev1.Probe) error {
	if probe == nil || probe.HTTPGet == nil {
		return fmt.Errorf("no HTTP %s probe", name)
	}
	want, err := r.boundPort("health-probe-bind-address")
	if err != nil {
		return err
	}
	if got, ok := containerPort(&r.manager, probe.HTTPGet.Port); !ok || got != want {
		return fmt.Errorf("%s probe on port %s, but the manager serves probes on %d", name, probe.HTTPGet.Port.String(), want)
	}
	return nil
}

// TestManagerDeployment checks the manager as `make deploy` installs it.
func TestManagerDeployment(t *testing.T) {
	r := renderDefault(t)
	for _, tc := range managerRules {
		t.Run(tc.rule, func(t *testing.T) {
			if err := tc.check(r); err != nil {
				t.Errorf("Deployment %s/%s, container manager: %v", r.deployment.Namespace, r.deployment.Name, err)
			}
		})
	}
}

// TestManagerRulesCatchABareManager: every rule fails on a manager container stripped of
// what the rules ask for.
func TestManagerRulesCatchABareManager(t *testing.T) {
	r := renderDefault(t)
	r.deployment.Spec.Template.Spec.SecurityContext = nil
	r.manager = corev1.Container{Name: "manager", Image: r.manager.Image, Args: []string{"manager"}}
	for _, tc := range managerRules {
		if err := tc.check(r); err == nil {
			t.Errorf("rule %q passes on a bare manager container", tc.rule)
		}
	}
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// selects reports whether a non-empty Service selector matches the labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// rbacProblems lists what a Role or ClusterRole must not grant: wildcards, and any access
// to Secrets beyond creating them and reading named ones (resourceNames). The operator
// mounts Secrets into the pods it creates (the kubelet reads them) and creates the run's
// token Secret, but never reads a Secret it did not name: only its own control key.
func rbacProblems(owner string, rules []rbacv1.PolicyRule) []string {
	var problems []string
	for i, rule := range rules {
		for field, values := range map[string][]string{
			"verbs": rule.Verbs, "resources": rule.Resources, "apiGroups": rule.APIGroups,
			"resourceNames": rule.ResourceNames, "nonResourceURLs": rule.NonResourceURLs,
		} {
			for _, v := range values {
				if v == "*" || strings.HasSuffix(v, "/*") {
					problems = append(problems, fmt.Sprintf("%s rule %d grants wildcard %s %q: list exactly what the operator needs", owner, i, field, values))
					break
				}
			}
		}
		for _, resource := range rule.Resources {
			if resource != "secrets" && !strings.HasPrefix(resource, "secrets/") {
				continue
			}
			var bad []string
			for _, v := range rule.Verbs {
				named := v == "get" && len(rule.ResourceNames) > 0 && resource == "secrets"
				if v != "create" && !named {
					bad = append(bad, v)
				}
			}
			if len(bad) > 0 {
				problems = append(problems, fmt.Sprintf("%s rule %d grants %q on %s: the operator may only create Secrets and get named ones", owner, i, bad, resource))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func TestRBACProblemsAreNamed(t *testing.T) {
	cases := []struct {
		name  string
		rules []rbacv1.PolicyRule
		want  []string
	}{{
		name:  "least privilege",
		rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "create"}}},
	}, {
		name:  "wildcard verbs",
		rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"*"}}},
		want:  []string{`ClusterRole x rule 0 grants wildcard verbs ["*"]: list exactly what the operator needs`},
	}, {
		name:  "wildcard group and resources",
		rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"pods/*"}, Verbs: []string{"get"}}},
		want: []string{
			`ClusterRole x rule 0 grants wildcard apiGroups ["*"]: list exactly what the operator needs`,
			`ClusterRole x rule 0 grants wildcard resources ["pods/*"]: list exactly what the operator needs`,
		},
	}, {
		name: "secrets, even read-only",
		rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"pods", "secrets"}, Verbs: []string{"get"}},
		},
		want: []string{`ClusterRole x rule 1 grants ["get"] on secrets: the operator may only create Secrets and get named ones`},
	}, {
		name: "creating secrets and getting a named one",
		rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{"streamreplay-control-key"}},
		},
	}, {
		name: "listing or changing named secrets",
		rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch", "update"}, ResourceNames: []string{"streamreplay-control-key"}},
		},
		want: []string{`ClusterRole x rule 0 grants ["list" "watch" "update"] on secrets: the operator may only create Secrets and get named ones`},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, rbacProblems("ClusterRole x", tc.rules)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRBACLeastPrivilege checks every Role and ClusterRole config/default installs.
func TestRBACLeastPrivilege(t *testing.T) {
	r := renderDefault(t)
	roles := append(r.ofKind("ClusterRole"), r.ofKind("Role")...)
	if len(roles) == 0 {
		t.Fatal("config/default renders no Role nor ClusterRole")
	}
	for _, obj := range roles {
		var role rbacv1.ClusterRole // a Role has the same rules field
		fromUnstructured(t, obj, &role)
		for _, p := range rbacProblems(describe(obj), role.Rules) {
			t.Error(p)
		}
	}
}

// permission is one verb on one resource of one API group.
type permission struct{ group, resource, verb string }

func (p permission) String() string {
	group := p.group
	if group == "" {
		group = "core"
	}
	return fmt.Sprintf("%s/%s %s", group, p.resource, p.verb)
}

func expand(rules []rbacv1.PolicyRule) []string {
	set := map[string]bool{}
	for _, rule := range rules {
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					set[permission{g, res, v}.String()] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

var rbacMarker = regexp.MustCompile(`^\s*//\s*\+kubebuilder:rbac:(.*)$`)

// markerRules reads the kubebuilder:rbac markers of the controllers' Go files.
func markerRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	files, err := filepath.Glob(repoPath("controllers", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		scanner := bufio.NewScanner(f)
		for line := 1; scanner.Scan(); line++ {
			m := rbacMarker.FindStringSubmatch(scanner.Text())
			if m == nil {
				continue
			}
			rule, err := parseRBACMarker(m[1])
			if err != nil {
				t.Errorf("%s:%d: %v", file, line, err)
				continue
			}
			rules = append(rules, rule)
		}
		if err := scanner.Err(); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
	if len(rules) == 0 {
		t.Fatal("no +kubebuilder:rbac markers in controllers/")
	}
	return rules
}

// parseRBACMarker reads "groups=...,resources=...,verbs=..." with ";"-separated values.
func parseRBACMarker(s string) (rbacv1.PolicyRule, error) {
	var rule rbacv1.PolicyRule
	for _, field := range strings.Split(s, ",") {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return rule, fmt.Errorf("marker field %q is not key=value", field)
		}
		values := strings.Split(strings.Trim(value, `"`), ";")
		for i := range values {
			values[i] = strings.Trim(values[i], `"`)
		}
		switch key {
		case "groups":
			rule.APIGroups = values
		case "resources":
			rule.Resources = values
		case "verbs":
			rule.Verbs = values
		default:
			return rule, fmt.Errorf("marker field %q is not handled by this test (only groups, resources, verbs)", key)
		}
	}
	return rule, nil
}

// TestManagerRoleMatchesRBACMarkers: the manager's ClusterRole grants exactly what the
// controller's kubebuilder:rbac markers ask for, in config/rbac/role.yaml (written by
// `make manifests`) and as config/default installs it.
func TestManagerRoleMatchesRBACMarkers(t *testing.T) {
	want := expand(markerRules(t))

	var generated rbacv1.ClusterRole
	fromUnstructured(t, readObject(t, repoPath("config", "rbac", "role.yaml")), &generated)
	if diff := cmp.Diff(want, expand(generated.Rules)); diff != "" {
		t.Errorf("config/rbac/role.yaml differs from the kubebuilder:rbac markers in controllers/ (-markers +role.yaml); run `make manifests`:\n%s", diff)
	}

	r := renderDefault(t)
	var installed *rbacv1.ClusterRole
	for _, obj := range r.ofKind("ClusterRole") {
		if strings.HasSuffix(obj.GetName(), generated.Name) {
			installed = &rbacv1.ClusterRole{}
			fromUnstructured(t, obj, installed)
		}
	}
	if installed == nil {
		t.Fatalf("config/default installs no ClusterRole named *%s", generated.Name)
	}
	if diff := cmp.Diff(want, expand(installed.Rules)); diff != "" {
		t.Errorf("ClusterRole %s differs from the kubebuilder:rbac markers (-markers +installed):\n%s", installed.Name, diff)
	}
}
