//go:build linux

package config

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
)

// renderNamespaced renders config/namespaced with the LoadTests' namespace set to ns, as
// a user edits it: the value of WATCH_NAMESPACE in its kustomization.
func renderNamespaced(t *testing.T, ns string) []*unstructured.Unstructured {
	t.Helper()
	tmp := t.TempDir()
	if out, err := exec.Command("cp", "-R", repoPath("config"), tmp).CombinedOutput(); err != nil {
		t.Fatalf("copying config/: %v\n%s", err, out)
	}
	file := filepath.Join(tmp, "config", "namespaced", "kustomization.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const shipped = "name: WATCH_NAMESPACE\n        value: loadtests\n"
	if !strings.Contains(string(data), shipped) {
		t.Fatalf("config/namespaced does not set WATCH_NAMESPACE to loadtests the way this test edits it")
	}
	edited := strings.Replace(string(data), shipped, "name: WATCH_NAMESPACE\n        value: "+ns+"\n", 1)
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	return kustomize(t, filepath.Dir(file))
}

// TestNamespacedInstall renders config/namespaced for one namespace and checks that the
// manager's ClusterRole became a Role there with the same rules, bound to the manager's
// ServiceAccount, and that the manager watches that namespace only. Then it runs the
// manager as that ServiceAccount, with no ClusterRole of its own, through a whole run.
func TestNamespacedInstall(t *testing.T) {
	cfg, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := newDriver(ctx, t, c, "namespaced")
	objs := renderNamespaced(t, d.namespace)
	r := &renderedDefault{objs: objs}
	deployments := r.ofKind("Deployment")
	if len(deployments) != 1 {
		t.Fatalf("config/namespaced renders %d Deployments", len(deployments))
	}
	fromUnstructured(t, deployments[0], &r.deployment)
	r.manager = r.deployment.Spec.Template.Spec.Containers[0]

	// The rules.
	for _, obj := range r.ofKind("ClusterRole") {
		if strings.HasSuffix(obj.GetName(), "manager-role") {
			t.Errorf("config/namespaced still installs ClusterRole %s", obj.GetName())
		}
	}
	var role rbacv1.Role
	var binding rbacv1.RoleBinding
	for _, obj := range r.ofKind("Role") {
		if strings.HasSuffix(obj.GetName(), "manager-role") {
			fromUnstructured(t, obj, &role)
		}
	}
	for _, obj := range r.ofKind("RoleBinding") {
		if strings.HasSuffix(obj.GetName(), "manager-rolebinding") {
			fromUnstructured(t, obj, &binding)
		}
	}
	if role.Name == "" || binding.Name == "" {
		t.Fatalf("config/namespaced installs no Role *manager-role (%q) or RoleBinding *manager-rolebinding (%q)", role.Name, binding.Name)
	}
	if diff := cmp.Diff(expand(markerRules(t)), expand(role.Rules)); diff != "" {
		t.Errorf("Role %s differs from the ClusterRole's rules, the kubebuilder:rbac markers (-markers +role):\n%s", role.Name, diff)
	}
	for _, p := range rbacProblems("Role "+role.Name, role.Rules) {
		t.Error(p)
	}
	sa := r.deployment.Spec.Template.Spec.ServiceAccountName
	wantSubject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: r.deployment.Namespace}}
	if role.Namespace != d.namespace || binding.Namespace != d.namespace ||
		binding.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}) || !cmp.Equal(wantSubject, binding.Subjects) {
		t.Errorf("Role %s/%s, RoleBinding %s/%s to %+v for %+v; want both in %s, binding the Role to %+v",
			role.Namespace, role.Name, binding.Namespace, binding.Name, binding.RoleRef, binding.Subjects, d.namespace, wantSubject)
	}
	watch := slices.IndexFunc(r.manager.Env, func(e corev1.EnvVar) bool { return e.Name == "WATCH_NAMESPACE" })
	if v, _ := flagValue(r.manager.Args, "watch-namespace"); v != "$(WATCH_NAMESPACE)" || watch < 0 || r.manager.Env[watch].Value != d.namespace {
		t.Errorf("the manager does not watch %s only: --watch-namespace=%q, env %+v", d.namespace, v, r.manager.Env)
	}

	// On the API server: the objects are valid, and the manager's ServiceAccount may do
	// its work in that namespace and nowhere else.
	for _, obj := range r.ofKind("Namespace") {
		if err := createForReal(ctx, c, obj); err != nil {
			t.Fatalf("%s: %v", describe(obj), err)
		}
	}
	for _, obj := range objs {
		if err := dryRunCreate(ctx, c, obj); err != nil {
			t.Errorf("%s: the API server refuses it: %v", describe(obj), err)
		}
	}
	// Other tests installed config/default's ClusterRoleBinding for the same account:
	// without it, only the namespaced RBAC is left.
	var clusterBinding rbacv1.ClusterRoleBinding
	clusterBindingKey := client.ObjectKey{Name: strings.TrimSuffix(role.Name, "manager-role") + "manager-rolebinding"}
	if err := c.Get(ctx, clusterBindingKey, &clusterBinding); err == nil {
		if err := c.Delete(ctx, &clusterBinding); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			clusterBinding.ResourceVersion = ""
			if err := c.Create(context.Background(), &clusterBinding); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Errorf("restoring ClusterRoleBinding %s: %v", clusterBinding.Name, err)
			}
		})
	}
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		for _, obj := range r.ofKind(kind) {
			if err := createForReal(ctx, c, obj); err != nil {
				t.Fatalf("%s: %v", describe(obj), err)
			}
		}
	}
	asManager := rest.CopyConfig(cfg)
	asManager.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", r.deployment.Namespace, sa),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + r.deployment.Namespace, "system:authenticated"},
	}
	other := createNamespace(ctx, t, c, "not-watched")
	impersonated, err := client.New(asManager, client.Options{Scheme: c.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	var lts streamreplayv1alpha1.LoadTestList
	if err := impersonated.List(ctx, &lts, client.InNamespace(other)); !apierrors.IsForbidden(err) {
		t.Errorf("the manager's ServiceAccount lists LoadTests in namespace %s: err = %v, want Forbidden", other, err)
	}
	if err := impersonated.List(ctx, &lts); !apierrors.IsForbidden(err) {
		t.Errorf("the manager's ServiceAccount lists LoadTests of all namespaces: err = %v, want Forbidden", err)
	}

	// A whole run, the manager acting as its ServiceAccount.
	d.startManager(asManager)
	lt := d.create(runLoadTest("namespaced", false))
	d.waitPhase(lt, streamreplayv1alpha1.PhaseStarting)
	d.readyAll(lt)
	d.waitStarted(lt)
	started := d.get(lt)
	d.terminate(controllers.WorkerPodName(started, 0), 0, workerReport(t, started))
	d.terminate(controllers.ObserverPodName(started), 0, observerReport(t, started, 0))
	d.waitPhase(lt, streamreplayv1alpha1.PhasePassed)
}
