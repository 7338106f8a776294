package config

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// dryRunCreate creates obj with a server-side dry-run: admission, schema, CEL rules and
// defaulting all run, nothing is stored. An object the API server already has (the CRD,
// installed by envtest) is dry-run updated instead.
func dryRunCreate(ctx context.Context, c client.Client, obj *unstructured.Unstructured) error {
	obj = obj.DeepCopy()
	err := c.Create(ctx, obj, client.DryRunAll)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(obj.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		return err
	}
	obj.SetResourceVersion(live.GetResourceVersion())
	return c.Update(ctx, obj, client.DryRunAll)
}

// createForReal creates obj unless it exists already.
func createForReal(ctx context.Context, c client.Client, obj *unstructured.Unstructured) error {
	if err := c.Create(ctx, obj.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// TestDefaultConfigOnAPIServer validates everything `make deploy` installs against a real
// API server, then checks what the installed RBAC lets the manager's ServiceAccount do.
func TestDefaultConfigOnAPIServer(t *testing.T) {
	_, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := renderDefault(t)

	// Namespaces first, and for real: namespaced objects can only be created in one.
	for _, obj := range r.ofKind("Namespace") {
		if err := dryRunCreate(ctx, c, obj); err != nil {
			t.Fatalf("%s: the API server refuses it: %v", describe(obj), err)
		}
		if err := createForReal(ctx, c, obj); err != nil {
			t.Fatalf("%s: %v", describe(obj), err)
		}
	}
	t.Run("dry-run", func(t *testing.T) {
		for _, obj := range r.objs {
			if obj.GetKind() == "Namespace" {
				continue
			}
			if err := dryRunCreate(ctx, c, obj); err != nil {
				t.Errorf("%s: the API server refuses it: %v", describe(obj), err)
			}
		}
	})

	t.Run("manager pod meets the namespace's Pod Security level", func(t *testing.T) {
		ns := r.deployment.Namespace
		var namespace corev1.Namespace
		if err := c.Get(ctx, client.ObjectKey{Name: ns}, &namespace); err != nil {
			t.Fatal(err)
		}
		if level := namespace.Labels["pod-security.kubernetes.io/enforce"]; level != "restricted" {
			t.Errorf("namespace %s enforces Pod Security level %q, want restricted", ns, level)
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "manager-", Labels: r.deployment.Spec.Template.Labels},
			Spec:       *r.deployment.Spec.Template.Spec.DeepCopy(),
		}
		if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
			t.Errorf("the manager's pod template is refused in namespace %s: %v", ns, err)
		}
		// The admission plugin is on: a privileged variant of the same pod is refused.
		pod = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "manager-"},
			Spec:       *r.deployment.Spec.Template.Spec.DeepCopy(),
		}
		pod.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true)
		pod.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
		if err := c.Create(ctx, pod, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "PodSecurity") {
			t.Errorf("a privileged pod in namespace %s: err = %v, want a PodSecurity refusal", ns, err)
		}
	})

	t.Run("permissions of the manager's ServiceAccount", func(t *testing.T) {
		for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
			for _, obj := range r.ofKind(kind) {
				if err := createForReal(ctx, c, obj); err != nil {
					t.Fatalf("%s: %v", describe(obj), err)
				}
			}
		}
		sa := r.deployment.Spec.Template.Spec.ServiceAccountName
		if sa == "" {
			t.Fatal("the manager's pod names no ServiceAccount")
		}
		own := r.deployment.Namespace
		const team = "some-team" // where users run LoadTests
		type access struct {
			namespace string
			permission
			subresource string
			allowed     bool
			name        string // of the object, when it matters
		}
		var cases []access
		for _, rule := range markerRules(t) {
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					resource, sub, _ := strings.Cut(res, "/")
					for _, v := range rule.Verbs {
						cases = append(cases, access{team, permission{g, resource, v}, sub, true, ""})
					}
				}
			}
		}
		// Secrets: created (the run's token, the control key), never read, but for the
		// control key in the operator's own namespace, by name.
		for _, ns := range []string{team, own} {
			cases = append(cases, access{ns, permission{"", "secrets", "create"}, "", true, ""})
			for _, v := range []string{"get", "list", "watch", "update", "patch", "delete"} {
				cases = append(cases, access{ns, permission{"", "secrets", v}, "", false, ""})
			}
			cases = append(cases,
				access{ns, permission{"", "secrets", "get"}, "", ns == own, controlKeySecret},
				access{ns, permission{"", "secrets", "get"}, "", false, "kafka-user"})
		}
		for _, v := range []string{"get", "create", "update"} {
			cases = append(cases, access{own, permission{"coordination.k8s.io", "leases", v}, "", true, ""})
		}
		for _, tc := range cases {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   fmt.Sprintf("system:serviceaccount:%s:%s", own, sa),
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + own, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: tc.namespace, Verb: tc.verb, Group: tc.group, Resource: tc.resource, Subresource: tc.subresource, Name: tc.name,
				},
			}}
			if err := c.Create(ctx, sar); err != nil {
				t.Fatalf("SubjectAccessReview: %v", err)
			}
			if sar.Status.Allowed != tc.allowed {
				t.Errorf("ServiceAccount %s/%s may %s %s %s in namespace %s: allowed = %t, want %t (%s)",
					own, sa, tc.verb, strings.TrimSuffix(tc.resource+"/"+tc.subresource, "/"), tc.name, tc.namespace, sar.Status.Allowed, tc.allowed, sar.Status.Reason)
			}
		}
	})
}

// controlKeySecret is the Secret of the operator's control key, in its own namespace.
const controlKeySecret = "streamreplay-control-key"

// TestOtherConfigOnAPIServer dry-runs the kustomizations users apply in their own
// namespaces: the example LoadTest.
func TestOtherConfigOnAPIServer(t *testing.T) {
	_, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, dir := range []string{"samples"} {
		t.Run(dir, func(t *testing.T) {
			ns := createNamespace(ctx, t, c, dir)
			for _, obj := range kustomize(t, repoPath("config", dir)) {
				if obj.GetNamespace() == "" {
					obj.SetNamespace(ns)
				}
				if err := dryRunCreate(ctx, c, obj); err != nil {
					t.Errorf("config/%s: %s: the API server refuses it: %v", dir, describe(obj), err)
				}
			}
		})
	}
}

// TestArgoCDFixturesAreValidLoadTests stores each fixture of config/argocd/testdata, spec
// and status, so the health check is tested on LoadTests the API server accepts.
func TestArgoCDFixturesAreValidLoadTests(t *testing.T) {
	_, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := createNamespace(ctx, t, c, "argocd-fixtures")
	files := fixtureFiles(t)
	for i, file := range files {
		t.Run(file, func(t *testing.T) {
			fixture := readObject(t, repoPath("config", "argocd", "testdata", file))
			obj := fixture.DeepCopy()
			unstructured.RemoveNestedField(obj.Object, "status")
			obj.SetNamespace(ns)
			obj.SetName(fmt.Sprintf("fixture-%d", i))
			obj.SetUID("")
			obj.SetGeneration(0)
			obj.SetCreationTimestamp(metav1.Time{})
			if err := c.Create(ctx, obj); err != nil {
				t.Fatalf("the API server refuses the fixture's spec: %v", err)
			}
			st, ok, _ := unstructured.NestedMap(fixture.Object, "status")
			if !ok {
				return
			}
			if err := unstructured.SetNestedMap(obj.Object, st, "status"); err != nil {
				t.Fatal(err)
			}
			if err := c.Status().Update(ctx, obj); err != nil {
				t.Errorf("the API server refuses the fixture's status: %v", err)
			}
		})
	}
}

// TestRerunNames checks the naming docs/gitops.md recommends for running a test again: a
// name per release, or a generated name (Argo CD hooks), within the API's 50 characters.
func TestRerunNames(t *testing.T) {
	_, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := createNamespace(ctx, t, c, "rerun-names")
	var sample *unstructured.Unstructured
	for _, obj := range kustomize(t, repoPath("config", "samples")) {
		if obj.GetKind() == "LoadTest" {
			sample = obj
			break
		}
	}
	if sample == nil {
		t.Fatal("config/samples holds no LoadTest")
	}
	cases := []struct {
		label, name, generateName string
		refusal                   string // empty when accepted
	}{
		{label: "release in the name", name: "crm-cdc-peak-v1-4-2"},
		{label: "generated name", generateName: "crm-cdc-peak-"},
		{label: "50 characters", name: strings.Repeat("a", 50)},
		{label: "51 characters", name: strings.Repeat("a", 51), refusal: "metadata.name must be at most 50 characters"},
		{label: "generated name too long", generateName: strings.Repeat("a", 46), refusal: "metadata.name must be at most 50 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			obj := sample.DeepCopy()
			obj.SetNamespace(ns)
			obj.SetName(tc.name)
			obj.SetGenerateName(tc.generateName)
			err := c.Create(ctx, obj, client.DryRunAll)
			switch {
			case tc.refusal == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refusal != "" && (err == nil || !strings.Contains(err.Error(), tc.refusal)):
				t.Errorf("err = %v, want a refusal saying %q", err, tc.refusal)
			}
		})
	}

	// The same name with another spec is refused: a GitOps tool cannot re-run a test by
	// editing it in place.
	t.Run("edited spec", func(t *testing.T) {
		obj := sample.DeepCopy()
		obj.SetNamespace(ns)
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedField(obj.Object, int64(9000), "spec", "targetRate"); err != nil {
			t.Fatal(err)
		}
		const refusal = "create a new LoadTest to run again"
		if err := c.Update(ctx, obj, client.DryRunAll); err == nil || !strings.Contains(err.Error(), refusal) {
			t.Errorf("err = %v, want a refusal saying %q", err, refusal)
		}
	})
}
