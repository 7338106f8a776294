package plugin

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

func TestRerunObject(t *testing.T) {
	orig := &streamreplayv1alpha1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "perf", Name: "crm", UID: "u1", ResourceVersion: "7", Generation: 2,
			Labels: map[string]string{
				"team": "crm", "app.kubernetes.io/instance": "crm-app",
				"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
			},
			Annotations: map[string]string{"argocd.argoproj.io/tracking-id": "crm-app:streamreplay.io/LoadTest:perf/crm"},
		},
		Spec:   streamreplayv1alpha1.LoadTestSpec{TargetRate: ptr.To[int64](10), Workers: 1, Stop: true},
		Status: streamreplayv1alpha1.LoadTestStatus{Phase: streamreplayv1alpha1.PhaseAborted},
	}
	wantSpec := orig.Spec
	wantSpec.Stop = false
	tests := []struct {
		name, orig, newName string
		want                metav1.ObjectMeta
	}{{
		name: "generated name, GitOps tracking dropped",
		orig: "crm",
		want: metav1.ObjectMeta{Namespace: "perf", GenerateName: "crm-rerun-",
			Labels: map[string]string{"team": "crm"}, Annotations: map[string]string{AnnotationRerunOf: "crm"}},
	}, {
		name: "a rerun's rerun is not named -rerun-xxxxx-rerun-",
		orig: "crm-rerun-ab1c2",
		want: metav1.ObjectMeta{Namespace: "perf", GenerateName: "crm-rerun-",
			Labels: map[string]string{"team": "crm"}, Annotations: map[string]string{AnnotationRerunOf: "crm-rerun-ab1c2"}},
	}, {
		name: "a long name is cut to fit 50 characters with the generated suffix",
		orig: "a23456789012345678901234567890123456789012345678",
		want: metav1.ObjectMeta{Namespace: "perf", GenerateName: "a2345678901234567890123456789012345678-rerun-",
			Labels: map[string]string{"team": "crm"}, Annotations: map[string]string{AnnotationRerunOf: "a23456789012345678901234567890123456789012345678"}},
	}, {
		name: "--name",
		orig: "crm", newName: "crm-v2",
		want: metav1.ObjectMeta{Namespace: "perf", Name: "crm-v2",
			Labels: map[string]string{"team": "crm"}, Annotations: map[string]string{AnnotationRerunOf: "crm"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := orig.DeepCopy()
			lt.Name = tt.orig
			got := Rerun(lt, tt.newName)
			if diff := cmp.Diff(tt.want, got.ObjectMeta); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantSpec, got.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(streamreplayv1alpha1.LoadTestStatus{}, got.Status); diff != "" {
				t.Errorf("status copied (-want +got):\n%s", diff)
			}
			if lt.Labels["app.kubernetes.io/instance"] != "crm-app" {
				t.Error("Rerun changed the original's labels")
			}
		})
	}
}
