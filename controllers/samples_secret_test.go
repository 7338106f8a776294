package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/plan"
)

// A sample URL and its headers from Secrets reach the pod as mounted files; the plan
// names the files, never the URL.
func TestSampleURLAndHeadersFromSecrets(t *testing.T) {
	lt := loadTest(testName).SampleSet(streamreplayv1alpha1.SampleSet{
		URLSecretRef:     &streamreplayv1alpha1.SecretKeyRef{Name: "samples-url", Key: "signed-url"},
		HeadersSecretRef: &streamreplayv1alpha1.SecretRef{Name: "samples-auth"},
		Format:           streamreplayv1alpha1.SampleFormatJSONLines,
	}).Obj()
	pod := mustWorkerPod(t, lt, 0)
	wantVolumes := []corev1.Volume{
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "sample-url", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "samples-url", Items: []corev1.KeyToPath{{Key: "signed-url", Path: "url"}}, DefaultMode: ptr.To[int32](0o440),
		}}},
		{Name: "sample-headers", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "samples-auth", DefaultMode: ptr.To[int32](0o440),
		}}},
		wantControlVolume,
	}
	if diff := cmp.Diff(wantVolumes, pod.Spec.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	wantMounts := []corev1.VolumeMount{
		{Name: "tmp", MountPath: "/tmp"},
		{Name: "sample-url", MountPath: "/var/run/streamreplay/sample-url", ReadOnly: true},
		{Name: "sample-headers", MountPath: "/var/run/streamreplay/sample-headers", ReadOnly: true},
		wantControlMount,
	}
	if diff := cmp.Diff(wantMounts, pod.Spec.Containers[0].VolumeMounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	want := plan.Samples{
		Name: "the URL of spec.sampleSet.urlSecretRef", URLFile: "/var/run/streamreplay/sample-url/url",
		HeadersDir: "/var/run/streamreplay/sample-headers", Format: "JSONLines", Loop: true,
	}
	if diff := cmp.Diff(want, podPlan(t, pod).Samples); diff != "" {
		t.Errorf("plan samples (-want +got):\n%s", diff)
	}
	assertNoSecretInEnvOrArgs(t, pod, "samples-url", "samples-auth")

	// The observer reads no samples: it mounts neither Secret.
	lt.Spec.DeadLetterQueue = &streamreplayv1alpha1.DeadLetterQueue{Topic: "crm-pipeline.dlq"}
	if obs := mustObserverPod(t, lt); !cmp.Equal(obs.Spec.Volumes, []corev1.Volume{wantVolumes[0], wantControlVolume}) {
		t.Errorf("observer volumes = %+v, want tmp and the control token only", obs.Spec.Volumes)
	}

	// Headers with a plain URL: the URL in the plan, the headers mounted.
	lt.Spec.SampleSet.URLSecretRef, lt.Spec.SampleSet.URL = nil, "https://samples.example.com/crm.jsonl.gz"
	p := podPlan(t, mustWorkerPod(t, lt, 0))
	if p.Samples.URL != lt.Spec.SampleSet.URL || p.Samples.URLFile != "" || p.Samples.HeadersDir != "/var/run/streamreplay/sample-headers" {
		t.Errorf("plan samples = %+v, want the URL and the headers folder", p.Samples)
	}
}
