package controllers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

const (
	testImage     = "registry.example.com/streamreplay:v0.1.0"
	testUID       = "5f0c8b9e-3a1d-4c6e-9f2a-7b8c9d0e1f2a"
	testNamespace = "loadtests"
	testName      = "crm-cdc-peak"
	testTopic     = "dbserver1.dbo.customers"
	planEnv       = "STREAMREPLAY_PLAN"
	planOmitted   = "<decoded and compared separately>"
)

// podPlan decodes the plan of the pod's only container.
func podPlan(t *testing.T, pod *corev1.Pod) *plan.Plan {
	t.Helper()
	raw := rawPlan(t, pod)
	p, err := plan.Decode(raw)
	if err != nil {
		t.Fatalf("plan.Decode(%s of %s): %v", planEnv, pod.Name, err)
	}
	return p
}

func rawPlan(t *testing.T, pod *corev1.Pod) string {
	t.Helper()
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("pod %s has %d containers, want 1", pod.Name, len(pod.Spec.Containers))
	}
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == planEnv {
			return e.Value
		}
	}
	t.Fatalf("pod %s has no %s environment variable", pod.Name, planEnv)
	return ""
}

// withoutPlan returns a copy of the pod whose plan value is replaced by a placeholder, so
// that the rest of the pod can be compared literally.
func withoutPlan(pod *corev1.Pod) *corev1.Pod {
	out := pod.DeepCopy()
	for i := range out.Spec.Containers {
		for j := range out.Spec.Containers[i].Env {
			if out.Spec.Containers[i].Env[j].Name == planEnv {
				out.Spec.Containers[i].Env[j].Value = planOmitted
			}
		}
	}
	return out
}

func mustWorkerPod(t *testing.T, lt *streamreplayv1alpha1.LoadTest, index int32) *corev1.Pod {
	t.Helper()
	pod, err := BuildWorkerPod(lt, index, testImage)
	if err != nil {
		t.Fatalf("BuildWorkerPod(%d): %v", index, err)
	}
	return pod
}

func mustObserverPod(t *testing.T, lt *streamreplayv1alpha1.LoadTest) *corev1.Pod {
	t.Helper()
	pod, err := BuildObserverPod(lt, testImage)
	if err != nil {
		t.Fatalf("BuildObserverPod: %v", err)
	}
	return pod
}

// Every pod mounts its run's control token from the Secret <name>-control, 0440, and
// names the file in its arguments.
var (
	wantControlVolume = corev1.Volume{Name: "control", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "crm-cdc-peak-control", Items: []corev1.KeyToPath{{Key: "token", Path: "token"}}, DefaultMode: ptr.To[int32](0o440),
	}}}
	wantControlMount = corev1.VolumeMount{Name: "control", MountPath: "/var/run/streamreplay/control", ReadOnly: true}
	wantTokenArg     = "--control-token-file=/var/run/streamreplay/control/token"
)

func TestBuildControlSecret(t *testing.T) {
	got := BuildControlSecret(loadTest(testName).Obj(), "t0k3n")
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "crm-cdc-peak-control",
			Namespace: "loadtests",
			Labels: map[string]string{
				"app.kubernetes.io/name":       "streamreplay",
				"app.kubernetes.io/component":  "control",
				"app.kubernetes.io/managed-by": "streamreplay-operator",
				"streamreplay.io/loadtest":     "crm-cdc-peak",
				"streamreplay.io/run-id":       testUID,
			},
		},
		Type:      corev1.SecretTypeOpaque,
		Immutable: ptr.To(true),
		Data:      map[string][]byte{"token": []byte("t0k3n")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BuildControlSecret mismatch (-want +got):\n%s", diff)
	}
}

func TestBuildWorkerPod(t *testing.T) {
	lt := loadTest(testName).Obj()
	got := mustWorkerPod(t, lt, 2)

	// 5m ready + 30s start + 10m run + 30s drain + 5m margin.
	const deadline = int64(21 * 60)
	want := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "crm-cdc-peak-worker-2",
			Namespace: "loadtests",
			Labels: map[string]string{
				"app.kubernetes.io/name":       "streamreplay",
				"app.kubernetes.io/component":  "worker",
				"app.kubernetes.io/managed-by": "streamreplay-operator",
				"streamreplay.io/loadtest":     "crm-cdc-peak",
				"streamreplay.io/run-id":       testUID,
				"streamreplay.io/worker-index": "2",
			},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptr.To(deadline),
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65532),
				RunAsGroup:     ptr.To[int64](65532),
				FSGroup:        ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes: []corev1.Volume{
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "samples", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "crm-cdc-samples"},
					Items:                []corev1.KeyToPath{{Key: "samples.jsonl.gz", Path: "samples"}},
				}}},
				wantControlVolume,
			},
			Containers: []corev1.Container{{
				Name:  "replay",
				Image: testImage,
				Args:  []string{"worker", wantTokenArg},
				Env: []corev1.EnvVar{
					{Name: "STREAMREPLAY_PLAN", Value: planOmitted},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				},
				Ports: []corev1.ContainerPort{
					{Name: "control", ContainerPort: 9400, Protocol: corev1.ProtocolTCP},
					{Name: "metrics", ContainerPort: 9401, Protocol: corev1.ProtocolTCP},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/readyz", Port: intstr.FromString("metrics"),
					}},
					PeriodSeconds:    2,
					FailureThreshold: 1,
				},
				LivenessProbe: &corev1.Probe{
					ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/healthz", Port: intstr.FromString("metrics"),
					}},
					PeriodSeconds:    10,
					FailureThreshold: 6,
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("500m"),
						corev1.ResourceMemory: resource.MustParse("256Mi"),
					},
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "tmp", MountPath: "/tmp"},
					{Name: "samples", MountPath: "/var/run/streamreplay/samples", ReadOnly: true},
					wantControlMount,
				},
				TerminationMessagePath:   "/dev/termination-log",
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					RunAsNonRoot:             ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
		},
	}
	if diff := cmp.Diff(want, withoutPlan(got)); diff != "" {
		t.Errorf("BuildWorkerPod mismatch (-want +got):\n%s", diff)
	}

	wantPlan := &plan.Plan{
		Role:     results.RoleWorker,
		RunID:    testUID,
		LoadTest: "loadtests/crm-cdc-peak",
		Index:    2,
		Workers:  4,
		Scenario: plan.Scenario{Type: "Constant", TargetRate: 1250},
		Duration: metav1.Duration{Duration: 10 * time.Minute},
		Drain:    metav1.Duration{Duration: 30 * time.Second},
		Samples:  plan.Samples{Name: `ConfigMap "crm-cdc-samples", key "samples.jsonl.gz"`, Path: "/var/run/streamreplay/samples/samples", Format: "JSONLines", Loop: true},
		Kafka:    plan.Kafka{BootstrapServers: []string{"kafka-0.kafka:9092", "kafka-1.kafka:9092"}, ClientID: "streamreplay"},
		Target:   plan.Target{Topic: testTopic, Partitioning: "Key", Acks: "All", Compression: "None"},
	}
	if diff := cmp.Diff(wantPlan, podPlan(t, got)); diff != "" {
		t.Errorf("worker plan mismatch (-want +got):\n%s", diff)
	}
}

func TestBuildWorkerPodVariants(t *testing.T) {
	// The workerTemplate case's settings, which the pod must carry as given (the template gets copies).
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("2Gi")},
	}
	tolerations := []corev1.Toleration{{
		Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "loadgen", Effect: corev1.TaintEffectNoSchedule,
	}}
	affinity := &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				TopologyKey:   "kubernetes.io/hostname",
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"streamreplay.io/loadtest": testName}},
			},
		}},
	}}
	for _, tc := range []struct {
		name  string
		index int32
		lt    *streamreplayv1alpha1.LoadTest
		check func(t *testing.T, lt *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, p *plan.Plan)
	}{
		{
			name: "workerTemplate image, pull policy, resources, scheduling, service account and priority",
			lt: loadTest(testName).WorkerTemplate(streamreplayv1alpha1.WorkerTemplate{
				Image:              "mirror.internal/streamreplay:dev",
				ImagePullPolicy:    corev1.PullAlways,
				Resources:          resources.DeepCopy(),
				NodeSelector:       map[string]string{"node-pool": "loadgen"},
				Tolerations:        slices.Clone(tolerations),
				Affinity:           affinity.DeepCopy(),
				ServiceAccountName: "loadgen",
				PriorityClassName:  "batch-low",
			}).Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, _ *plan.Plan) {
				c := pod.Spec.Containers[0]
				type view struct {
					Image           string
					PullPolicy      corev1.PullPolicy
					Resources       corev1.ResourceRequirements
					NodeSelector    map[string]string
					Tolerations     []corev1.Toleration
					Affinity        *corev1.Affinity
					ServiceAccount  string
					AutomountToken  *bool
					PriorityClass   string
					SecurityContext *corev1.SecurityContext
				}
				want := view{
					Image:          "mirror.internal/streamreplay:dev",
					PullPolicy:     corev1.PullAlways,
					Resources:      resources,
					NodeSelector:   map[string]string{"node-pool": "loadgen"},
					Tolerations:    tolerations,
					Affinity:       affinity,
					ServiceAccount: "loadgen",
					// A custom service account still gets no API token: the pods never call the API server.
					AutomountToken: ptr.To(false),
					PriorityClass:  "batch-low",
					// The template cannot weaken the restricted security context.
					SecurityContext: &corev1.SecurityContext{
						AllowPrivilegeEscalation: ptr.To(false),
						ReadOnlyRootFilesystem:   ptr.To(true),
						RunAsNonRoot:             ptr.To(true),
						Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
				}
				got := view{
					Image: c.Image, PullPolicy: c.ImagePullPolicy, Resources: c.Resources,
					NodeSelector: pod.Spec.NodeSelector, Tolerations: pod.Spec.Tolerations, Affinity: pod.Spec.Affinity,
					ServiceAccount: pod.Spec.ServiceAccountName, AutomountToken: pod.Spec.AutomountServiceAccountToken,
					PriorityClass: pod.Spec.PriorityClassName, SecurityContext: c.SecurityContext,
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("workerTemplate not applied (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "workerTemplate labels merged with the operator's labels winning, and annotations",
			lt: loadTest(testName).WorkerTemplate(streamreplayv1alpha1.WorkerTemplate{
				Labels: map[string]string{
					"team":                         "crm",
					"app.kubernetes.io/name":       "not-streamreplay",
					"app.kubernetes.io/component":  "observer",
					"streamreplay.io/loadtest":     "someone-else",
					"streamreplay.io/run-id":       "forged",
					"streamreplay.io/worker-index": "99",
				},
				Annotations: map[string]string{"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
			}).Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, _ *plan.Plan) {
				wantLabels := map[string]string{
					"team":                         "crm",
					"app.kubernetes.io/name":       "streamreplay",
					"app.kubernetes.io/component":  "worker",
					"app.kubernetes.io/managed-by": "streamreplay-operator",
					"streamreplay.io/loadtest":     "crm-cdc-peak",
					"streamreplay.io/run-id":       testUID,
					"streamreplay.io/worker-index": "1",
				}
				if diff := cmp.Diff(wantLabels, pod.Labels); diff != "" {
					t.Errorf("labels mismatch (-want +got):\n%s", diff)
				}
				wantAnnotations := map[string]string{"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
				if diff := cmp.Diff(wantAnnotations, pod.Annotations); diff != "" {
					t.Errorf("annotations mismatch (-want +got):\n%s", diff)
				}
			},
			index: 1,
		},
		{
			name: "PVC sample source with a path",
			lt:   loadTest(testName).PVC("crm-recordings", "2024-05/customers").Format(streamreplayv1alpha1.SampleFormatKcat).Loop(false).Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, p *plan.Plan) {
				wantVolumes := []corev1.Volume{
					{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					{Name: "samples", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
						ClaimName: "crm-recordings", ReadOnly: true,
					}}},
				}
				if diff := cmp.Diff(append(wantVolumes, wantControlVolume), pod.Spec.Volumes); diff != "" {
					t.Errorf("volumes mismatch (-want +got):\n%s", diff)
				}
				wantMounts := []corev1.VolumeMount{
					{Name: "tmp", MountPath: "/tmp"},
					{Name: "samples", MountPath: "/var/run/streamreplay/samples", ReadOnly: true},
				}
				if diff := cmp.Diff(append(wantMounts, wantControlMount), pod.Spec.Containers[0].VolumeMounts); diff != "" {
					t.Errorf("mounts mismatch (-want +got):\n%s", diff)
				}
				wantSamples := plan.Samples{Name: `PersistentVolumeClaim "crm-recordings", path "2024-05/customers"`,
					Path: "/var/run/streamreplay/samples/2024-05/customers", Format: "Kcat", Loop: false}
				if diff := cmp.Diff(wantSamples, p.Samples); diff != "" {
					t.Errorf("plan samples mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "URL sample source has no samples volume",
			lt:   loadTest(testName).URL("https://samples.example.com/crm/customers.jsonl.gz").Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, p *plan.Plan) {
				wantVolumes := []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
				if diff := cmp.Diff(append(wantVolumes, wantControlVolume), pod.Spec.Volumes); diff != "" {
					t.Errorf("volumes mismatch (-want +got):\n%s", diff)
				}
				wantMounts := []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
				if diff := cmp.Diff(append(wantMounts, wantControlMount), pod.Spec.Containers[0].VolumeMounts); diff != "" {
					t.Errorf("mounts mismatch (-want +got):\n%s", diff)
				}
				// loop unset means the API's default, true.
				wantSamples := plan.Samples{URL: "https://samples.example.com/crm/customers.jsonl.gz", Format: "JSONLines", Loop: true}
				if diff := cmp.Diff(wantSamples, p.Samples); diff != "" {
					t.Errorf("plan samples mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "TLS with CA and client certificate Secrets",
			lt: loadTest(testName).TLS(streamreplayv1alpha1.KafkaTLS{
				CASecretRef:         &streamreplayv1alpha1.SecretKeyRef{Name: "kafka-cluster-ca", Key: "ca.crt"},
				ClientCertSecretRef: &streamreplayv1alpha1.SecretRef{Name: "loadgen-user"},
				ServerName:          "kafka.internal",
			}).Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, p *plan.Plan) {
				wantVolumes := []corev1.Volume{
					{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					{Name: "samples", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: "crm-cdc-samples"},
						Items:                []corev1.KeyToPath{{Key: "samples.jsonl.gz", Path: "samples"}},
					}}},
					{Name: "kafka-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
						SecretName:  "kafka-cluster-ca",
						Items:       []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
						DefaultMode: ptr.To[int32](0o440),
					}}},
					{Name: "kafka-client-cert", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
						SecretName:  "loadgen-user",
						Items:       []corev1.KeyToPath{{Key: "tls.crt", Path: "tls.crt"}, {Key: "tls.key", Path: "tls.key"}},
						DefaultMode: ptr.To[int32](0o440),
					}}},
				}
				if diff := cmp.Diff(append(wantVolumes, wantControlVolume), pod.Spec.Volumes); diff != "" {
					t.Errorf("volumes mismatch (-want +got):\n%s", diff)
				}
				wantMounts := []corev1.VolumeMount{
					{Name: "tmp", MountPath: "/tmp"},
					{Name: "samples", MountPath: "/var/run/streamreplay/samples", ReadOnly: true},
					{Name: "kafka-ca", MountPath: "/var/run/streamreplay/kafka/kafka-ca", ReadOnly: true},
					{Name: "kafka-client-cert", MountPath: "/var/run/streamreplay/kafka/kafka-client-cert", ReadOnly: true},
				}
				if diff := cmp.Diff(append(wantMounts, wantControlMount), pod.Spec.Containers[0].VolumeMounts); diff != "" {
					t.Errorf("mounts mismatch (-want +got):\n%s", diff)
				}
				wantTLS := &plan.TLS{
					CAFile:     "/var/run/streamreplay/kafka/kafka-ca/ca.crt",
					CertFile:   "/var/run/streamreplay/kafka/kafka-client-cert/tls.crt",
					KeyFile:    "/var/run/streamreplay/kafka/kafka-client-cert/tls.key",
					ServerName: "kafka.internal",
				}
				if diff := cmp.Diff(wantTLS, p.Kafka.TLS); diff != "" {
					t.Errorf("plan TLS mismatch (-want +got):\n%s", diff)
				}
				assertNoSecretInEnvOrArgs(t, pod, "kafka-cluster-ca", "loadgen-user")
			},
		},
		{
			name: "SASL credentials only as mounted files",
			lt:   loadTest(testName).SCRAM("loadgen-scram").Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, p *plan.Plan) {
				wantVolume := corev1.Volume{Name: "kafka-sasl", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName:  "loadgen-scram",
					Items:       []corev1.KeyToPath{{Key: "username", Path: "username"}, {Key: "password", Path: "password"}},
					DefaultMode: ptr.To[int32](0o440),
				}}}
				if diff := cmp.Diff(wantVolume, findVolume(t, pod, "kafka-sasl")); diff != "" {
					t.Errorf("SASL volume mismatch (-want +got):\n%s", diff)
				}
				wantMount := corev1.VolumeMount{Name: "kafka-sasl", MountPath: "/var/run/streamreplay/kafka/kafka-sasl", ReadOnly: true}
				if diff := cmp.Diff(wantMount, findMount(t, pod, "kafka-sasl")); diff != "" {
					t.Errorf("SASL mount mismatch (-want +got):\n%s", diff)
				}
				wantSASL := &plan.SASL{
					Mechanism:    "SCRAM-SHA-512",
					UsernameFile: "/var/run/streamreplay/kafka/kafka-sasl/username",
					PasswordFile: "/var/run/streamreplay/kafka/kafka-sasl/password",
				}
				if diff := cmp.Diff(wantSASL, p.Kafka.SASL); diff != "" {
					t.Errorf("plan SASL mismatch (-want +got):\n%s", diff)
				}
				assertNoSecretInEnvOrArgs(t, pod, "loadgen-scram")
				assertPlanHasNoPassword(t, rawPlan(t, pod))
			},
		},
		{
			name: "Strimzi KafkaUser Secrets: the user name given, the keys renamed to fixed file names",
			lt: loadTest(testName).SASL(streamreplayv1alpha1.KafkaSASL{
				Mechanism: streamreplayv1alpha1.SASLScramSHA512,
				SecretRef: streamreplayv1alpha1.SecretRef{Name: "loadgen"},
				Username:  "loadgen",
			}).TLS(streamreplayv1alpha1.KafkaTLS{
				CASecretRef:         &streamreplayv1alpha1.SecretKeyRef{Name: "my-cluster-cluster-ca-cert", Key: "ca.crt"},
				ClientCertSecretRef: &streamreplayv1alpha1.SecretRef{Name: "loadgen-tls"},
				ClientCertKey:       "user.crt",
				ClientKeyKey:        "user.key",
			}).Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, p *plan.Plan) {
				wantSASL := corev1.Volume{Name: "kafka-sasl", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName:  "loadgen",
					Items:       []corev1.KeyToPath{{Key: "password", Path: "password"}},
					DefaultMode: ptr.To[int32](0o440),
				}}}
				if diff := cmp.Diff(wantSASL, findVolume(t, pod, "kafka-sasl")); diff != "" {
					t.Errorf("SASL volume mismatch (-want +got):\n%s", diff)
				}
				wantClient := corev1.Volume{Name: "kafka-client-cert", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName:  "loadgen-tls",
					Items:       []corev1.KeyToPath{{Key: "user.crt", Path: "tls.crt"}, {Key: "user.key", Path: "tls.key"}},
					DefaultMode: ptr.To[int32](0o440),
				}}}
				if diff := cmp.Diff(wantClient, findVolume(t, pod, "kafka-client-cert")); diff != "" {
					t.Errorf("client certificate volume mismatch (-want +got):\n%s", diff)
				}
				wantPlan := &plan.SASL{
					Mechanism:    "SCRAM-SHA-512",
					Username:     "loadgen",
					PasswordFile: "/var/run/streamreplay/kafka/kafka-sasl/password",
				}
				if diff := cmp.Diff(wantPlan, p.Kafka.SASL); diff != "" {
					t.Errorf("plan SASL mismatch (-want +got):\n%s", diff)
				}
				if p.Kafka.TLS == nil || p.Kafka.TLS.CertFile != "/var/run/streamreplay/kafka/kafka-client-cert/tls.crt" ||
					p.Kafka.TLS.KeyFile != "/var/run/streamreplay/kafka/kafka-client-cert/tls.key" {
					t.Errorf("plan TLS %+v, want the fixed tls.crt and tls.key files", p.Kafka.TLS)
				}
				assertPlanHasNoPassword(t, rawPlan(t, pod))
			},
		},
		{
			name: "SASL usernameKey and passwordKey renamed",
			lt: loadTest(testName).SASL(streamreplayv1alpha1.KafkaSASL{
				Mechanism:   streamreplayv1alpha1.SASLScramSHA256,
				SecretRef:   streamreplayv1alpha1.SecretRef{Name: "creds"},
				UsernameKey: "user",
				PasswordKey: "pass",
			}).Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, p *plan.Plan) {
				got := findVolume(t, pod, "kafka-sasl").Secret.Items
				want := []corev1.KeyToPath{{Key: "user", Path: "username"}, {Key: "pass", Path: "password"}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("SASL items mismatch (-want +got):\n%s", diff)
				}
				if p.Kafka.SASL.Username != "" || p.Kafka.SASL.UsernameFile != "/var/run/streamreplay/kafka/kafka-sasl/username" {
					t.Errorf("plan SASL %+v, want the username file", p.Kafka.SASL)
				}
			},
		},
		{
			name: "Stages: every stage's rate split so the shares add up, duration is the stages' sum",
			lt:   loadTest(testName).Stages(stage(2*time.Minute, 1000), stage(5*time.Minute, 8002), stage(90*time.Second, 3), stage(30*time.Second, 0)).Obj(),
			check: func(t *testing.T, lt *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, p *plan.Plan) {
				if p.Duration.Duration != 9*time.Minute {
					t.Errorf("plan duration = %v, want 9m (2m+5m+90s+30s)", p.Duration.Duration)
				}
				// 5m + 30s + 9m + 30s + 5m.
				if got, want := *pod.Spec.ActiveDeadlineSeconds, int64(20*60); got != want {
					t.Errorf("activeDeadlineSeconds = %d, want %d", got, want)
				}
				// Worker 0 gets the remainders first.
				wantScenario := plan.Scenario{Type: "Stages", Stages: []plan.Stage{
					{Duration: metav1.Duration{Duration: 2 * time.Minute}, TargetRate: 250},
					{Duration: metav1.Duration{Duration: 5 * time.Minute}, TargetRate: 2001},
					{Duration: metav1.Duration{Duration: 90 * time.Second}, TargetRate: 1},
					{Duration: metav1.Duration{Duration: 30 * time.Second}, TargetRate: 0},
				}}
				if diff := cmp.Diff(wantScenario, p.Scenario); diff != "" {
					t.Errorf("worker 0 scenario mismatch (-want +got):\n%s", diff)
				}
				for _, workers := range []int32{1, 3, 4, 7} {
					lt := lt.DeepCopy()
					lt.Spec.Workers = workers
					sums := make([]int64, len(lt.Spec.Scenario.Stages))
					for i := range workers {
						wp := podPlan(t, mustWorkerPod(t, lt, i))
						if len(wp.Scenario.Stages) != len(sums) {
							t.Fatalf("%d workers, worker %d: %d stages, want %d", workers, i, len(wp.Scenario.Stages), len(sums))
						}
						for s, st := range wp.Scenario.Stages {
							if st.Duration != lt.Spec.Scenario.Stages[s].Duration {
								t.Errorf("%d workers, worker %d, stage %d: duration %v, want %v", workers, i, s, st.Duration, lt.Spec.Scenario.Stages[s].Duration)
							}
							sums[s] += st.TargetRate
						}
					}
					for s, st := range lt.Spec.Scenario.Stages {
						if sums[s] != st.TargetRate {
							t.Errorf("%d workers, stage %d: shares add up to %d, want %d", workers, s, sums[s], st.TargetRate)
						}
					}
				}
			},
		},
		{
			name:  "Ramp: start and target rates both split",
			index: 3,
			lt:    loadTest(testName).Ramp(101).TargetRate(5003).Obj(),
			check: func(t *testing.T, lt *streamreplayv1alpha1.LoadTest, _ *corev1.Pod, p *plan.Plan) {
				// 101 = 26+25+25+25 and 5003 = 1251+1251+1251+1250: worker 3 has the smaller shares.
				want := plan.Scenario{Type: "Ramp", StartRate: 25, TargetRate: 1250}
				if diff := cmp.Diff(want, p.Scenario); diff != "" {
					t.Errorf("scenario mismatch (-want +got):\n%s", diff)
				}
				var start, target int64
				for i := range lt.Spec.Workers {
					wp := podPlan(t, mustWorkerPod(t, lt, i))
					start += wp.Scenario.StartRate
					target += wp.Scenario.TargetRate
				}
				if start != 101 || target != 5003 {
					t.Errorf("shares add up to start %d, target %d; want 101, 5003", start, target)
				}
				if p.Duration.Duration != 10*time.Minute {
					t.Errorf("plan duration = %v, want 10m", p.Duration.Duration)
				}
			},
		},
		{
			name: "Replay with speed and no rate cap",
			lt:   loadTest(testName).Replay("2.5").Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, _ *corev1.Pod, p *plan.Plan) {
				want := plan.Scenario{Type: "Replay", Speed: "2.5"}
				if diff := cmp.Diff(want, p.Scenario); diff != "" {
					t.Errorf("scenario mismatch (-want +got):\n%s", diff)
				}
				if p.Duration.Duration != 10*time.Minute {
					t.Errorf("plan duration = %v, want 10m", p.Duration.Duration)
				}
			},
		},
		{
			name:  "Replay with speed and a rate cap",
			index: 1,
			lt:    loadTest(testName).Replay("0.5").TargetRate(10).Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, _ *corev1.Pod, p *plan.Plan) {
				want := plan.Scenario{Type: "Replay", Speed: "0.5", TargetRate: 3}
				if diff := cmp.Diff(want, p.Scenario); diff != "" {
					t.Errorf("scenario mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "DLQ and pipeline reach the worker plan too",
			lt:   loadTest(testName).DLQ("crm-pipeline.dlq").Pipeline("crm.customers.enriched", "").Obj(),
			check: func(t *testing.T, _ *streamreplayv1alpha1.LoadTest, pod *corev1.Pod, p *plan.Plan) {
				if diff := cmp.Diff(&plan.DLQ{Topic: "crm-pipeline.dlq"}, p.DLQ); diff != "" {
					t.Errorf("DLQ mismatch (-want +got):\n%s", diff)
				}
				wantPipeline := &plan.Pipeline{InputTopic: testTopic, OutputTopic: "crm.customers.enriched"}
				if diff := cmp.Diff(wantPipeline, p.Pipeline); diff != "" {
					t.Errorf("pipeline mismatch (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]string{"worker", wantTokenArg}, pod.Spec.Containers[0].Args); diff != "" {
					t.Errorf("args mismatch (-want +got):\n%s", diff)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := tc.lt
			pod := mustWorkerPod(t, lt, tc.index)
			if want := fmt.Sprintf("crm-cdc-peak-worker-%d", tc.index); pod.Name != want {
				t.Errorf("pod name = %q, want %q", pod.Name, want)
			}
			p := podPlan(t, pod)
			if p.Role != results.RoleWorker || p.Index != tc.index || p.Workers != lt.Spec.Workers || p.RunID != testUID {
				t.Errorf("plan role/index/workers/runID = %s/%d/%d/%s, want worker/%d/%d/%s",
					p.Role, p.Index, p.Workers, p.RunID, tc.index, lt.Spec.Workers, testUID)
			}
			tc.check(t, lt, pod, p)
		})
	}
}

func findVolume(t *testing.T, pod *corev1.Pod, name string) corev1.Volume {
	t.Helper()
	for _, v := range pod.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("pod %s has no volume %q", pod.Name, name)
	return corev1.Volume{}
}

func findMount(t *testing.T, pod *corev1.Pod, name string) corev1.VolumeMount {
	t.Helper()
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("pod %s has no volume mount %q", pod.Name, name)
	return corev1.VolumeMount{}
}

// assertNoSecretInEnvOrArgs checks that Secrets reach the container only as volumes: no
// environment variable reads a Secret, and neither env values nor args name one.
func assertNoSecretInEnvOrArgs(t *testing.T, pod *corev1.Pod, secretNames ...string) {
	t.Helper()
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				t.Errorf("container %s takes env from Secret %q", c.Name, ef.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				t.Errorf("container %s env %s uses secretKeyRef %q", c.Name, e.Name, e.ValueFrom.SecretKeyRef.Name)
			}
			for _, s := range secretNames {
				if strings.Contains(e.Value, s) {
					t.Errorf("container %s env %s names Secret %q", c.Name, e.Name, s)
				}
			}
		}
		for _, a := range append(append([]string{}, c.Command...), c.Args...) {
			for _, s := range secretNames {
				if strings.Contains(a, s) {
					t.Errorf("container %s argument %q names Secret %q", c.Name, a, s)
				}
			}
		}
	}
}

// assertPlanHasNoPassword walks the raw plan JSON: the only key that mentions a password
// or a credential must be passwordFile, and it must hold a path under the secrets folder.
func assertPlanHasNoPassword(t *testing.T, raw string) {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("plan is not JSON: %v", err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				lower := strings.ToLower(k)
				switch {
				case lower == "passwordfile" || lower == "usernamefile":
					s, ok := child.(string)
					if !ok || !strings.HasPrefix(s, "/var/run/streamreplay/kafka/") {
						t.Errorf("plan %s.%s = %v, want a path under /var/run/streamreplay/kafka/", path, k, child)
					}
				case strings.Contains(lower, "password"), strings.Contains(lower, "secret"), strings.Contains(lower, "token"):
					t.Errorf("plan has key %s.%s: credentials must only be file paths", path, k)
				}
				walk(path+"."+k, child)
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), child)
			}
		}
	}
	walk("", doc)
}

func TestBuildWorkerPodDoesNotMutateInput(t *testing.T) {
	lt := loadTest(testName).Stages(stage(time.Minute, 100), stage(time.Minute, 200)).
		TLS(streamreplayv1alpha1.KafkaTLS{CASecretRef: &streamreplayv1alpha1.SecretKeyRef{Name: "ca", Key: "ca.crt"}}).
		SASL(streamreplayv1alpha1.KafkaSASL{Mechanism: streamreplayv1alpha1.SASLPlain, SecretRef: streamreplayv1alpha1.SecretRef{Name: "sasl"}}).
		DLQ("dlq").Pipeline("", "enricher").
		WorkerTemplate(streamreplayv1alpha1.WorkerTemplate{
			Resources:    &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}},
			NodeSelector: map[string]string{"pool": "loadgen"},
			Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
			Affinity:     &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}},
			Labels:       map[string]string{"team": "crm", LabelComponent: "mine"},
			Annotations:  map[string]string{"note": "keep"},
		}).Obj()
	before := lt.DeepCopy()

	worker := mustWorkerPod(t, lt, 1)
	observer := mustObserverPod(t, lt)
	if diff := cmp.Diff(before, lt); diff != "" {
		t.Fatalf("building pods mutated the LoadTest (-want +got):\n%s", diff)
	}

	// The pods must not share maps or slices with the LoadTest: changing them leaves it alone.
	for _, pod := range []*corev1.Pod{worker, observer} {
		pod.Labels["team"] = "changed"
		pod.Annotations["note"] = "changed"
		pod.Spec.NodeSelector["pool"] = "changed"
		pod.Spec.Tolerations[0].Key = "changed"
		pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
		pod.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1")
	}
	if diff := cmp.Diff(before, lt); diff != "" {
		t.Errorf("changing the built pods changed the LoadTest (-want +got):\n%s", diff)
	}
}

func TestNeedsObserver(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dlq      *streamreplayv1alpha1.DeadLetterQueue
		pipeline *streamreplayv1alpha1.Pipeline
		want     bool
	}{
		{name: "neither", want: false},
		{name: "DLQ only", dlq: &streamreplayv1alpha1.DeadLetterQueue{Topic: "dlq"}, want: true},
		{name: "pipeline output only", pipeline: &streamreplayv1alpha1.Pipeline{OutputTopic: "out"}, want: true},
		{name: "pipeline consumer group only", pipeline: &streamreplayv1alpha1.Pipeline{ConsumerGroup: "g"}, want: true},
		{name: "both", dlq: &streamreplayv1alpha1.DeadLetterQueue{Topic: "dlq"}, pipeline: &streamreplayv1alpha1.Pipeline{OutputTopic: "out"}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := loadTest(testName).Obj()
			lt.Spec.DeadLetterQueue, lt.Spec.Pipeline = tc.dlq, tc.pipeline
			if got := needsObserver(lt); got != tc.want {
				t.Errorf("needsObserver = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBuildObserverPod(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lt       *streamreplayv1alpha1.LoadTest
		wantPlan func() *plan.Plan
	}{
		{
			name: "DLQ and pipeline",
			lt: loadTest(testName).DeadLetterQueue(streamreplayv1alpha1.DeadLetterQueue{
				Topic: "crm-pipeline.dlq", CountAllRecords: true, ClassifyHeader: "x-error-class",
			}).Pipeline("crm.customers.enriched", "crm-enricher").Obj(),
			wantPlan: func() *plan.Plan {
				p := observerPlanBase()
				p.DLQ = &plan.DLQ{Topic: "crm-pipeline.dlq", CountAllRecords: true, ClassifyHeader: "x-error-class"}
				p.Pipeline = &plan.Pipeline{InputTopic: testTopic, OutputTopic: "crm.customers.enriched", ConsumerGroup: "crm-enricher"}
				return p
			},
		},
		{
			name: "DLQ only",
			lt:   loadTest(testName).DLQ("crm-pipeline.dlq").Obj(),
			wantPlan: func() *plan.Plan {
				p := observerPlanBase()
				p.DLQ = &plan.DLQ{Topic: "crm-pipeline.dlq"}
				return p
			},
		},
		{
			name: "pipeline consumer group only",
			lt:   loadTest(testName).Pipeline("", "crm-enricher").Obj(),
			wantPlan: func() *plan.Plan {
				p := observerPlanBase()
				p.Pipeline = &plan.Pipeline{InputTopic: testTopic, ConsumerGroup: "crm-enricher"}
				return p
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := tc.lt
			if !needsObserver(lt) {
				t.Fatalf("needsObserver = false for %s", tc.name)
			}
			pod := mustObserverPod(t, lt)

			if pod.Name != "crm-cdc-peak-observer" || pod.Namespace != "loadtests" {
				t.Errorf("observer is %s/%s, want loadtests/crm-cdc-peak-observer", pod.Namespace, pod.Name)
			}
			wantLabels := map[string]string{
				"app.kubernetes.io/name":       "streamreplay",
				"app.kubernetes.io/component":  "observer",
				"app.kubernetes.io/managed-by": "streamreplay-operator",
				"streamreplay.io/loadtest":     "crm-cdc-peak",
				"streamreplay.io/run-id":       testUID,
			}
			if diff := cmp.Diff(wantLabels, pod.Labels); diff != "" {
				t.Errorf("observer labels mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"observer", wantTokenArg}, pod.Spec.Containers[0].Args); diff != "" {
				t.Errorf("observer args mismatch (-want +got):\n%s", diff)
			}
			if got, want := *pod.Spec.ActiveDeadlineSeconds, int64(21*60); got != want {
				t.Errorf("observer activeDeadlineSeconds = %d, want %d", got, want)
			}
			if diff := cmp.Diff(tc.wantPlan(), podPlan(t, pod)); diff != "" {
				t.Errorf("observer plan mismatch (-want +got):\n%s", diff)
			}

			// Apart from its name, labels, arguments, plan and the samples it does not
			// mount (TestPodVolumesByRole), the observer pod is a worker pod.
			worker := withoutPlan(mustWorkerPod(t, lt, 0))
			obs := withoutPlan(pod)
			obs.Name, obs.Labels, obs.Spec.Containers[0].Args = worker.Name, worker.Labels, worker.Spec.Containers[0].Args
			obs.Spec.Volumes, obs.Spec.Containers[0].VolumeMounts = worker.Spec.Volumes, worker.Spec.Containers[0].VolumeMounts
			if diff := cmp.Diff(worker, obs); diff != "" {
				t.Errorf("observer pod differs from a worker pod beyond name, labels, args, plan and volumes (-worker +observer):\n%s", diff)
			}
		})
	}
}

func observerPlanBase() *plan.Plan {
	return &plan.Plan{
		Role:     results.RoleObserver,
		RunID:    testUID,
		LoadTest: "loadtests/crm-cdc-peak",
		Index:    0,
		Workers:  4,
		Duration: metav1.Duration{Duration: 10 * time.Minute},
		Drain:    metav1.Duration{Duration: 30 * time.Second},
		Kafka:    plan.Kafka{BootstrapServers: []string{"kafka-0.kafka:9092", "kafka-1.kafka:9092"}, ClientID: "streamreplay"},
		Target:   plan.Target{Topic: testTopic, Partitioning: "Key", Acks: "All", Compression: "None"},
	}
}

// TestPodVolumesByRole: only workers mount the samples. The observer never reads them, and
// with a ReadWriteOnce claim it would compete with the workers for the volume.
func TestPodVolumesByRole(t *testing.T) {
	tmp := corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	tmpMount := corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"}
	samplesMount := corev1.VolumeMount{Name: "samples", MountPath: "/var/run/streamreplay/samples", ReadOnly: true}
	sasl := corev1.Volume{Name: "kafka-sasl", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "kafka-user", DefaultMode: ptr.To[int32](0o440),
		Items: []corev1.KeyToPath{{Key: "username", Path: "username"}, {Key: "password", Path: "password"}},
	}}}
	saslMount := corev1.VolumeMount{Name: "kafka-sasl", MountPath: "/var/run/streamreplay/kafka/kafka-sasl", ReadOnly: true}
	configMap := corev1.Volume{Name: "samples", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "crm-cdc-samples"},
		Items:                []corev1.KeyToPath{{Key: "samples.jsonl.gz", Path: "samples"}},
	}}}
	claim := corev1.Volume{Name: "samples", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
		ClaimName: "crm-recordings", ReadOnly: true,
	}}}
	// Every case has an observer, through its DLQ.
	withDLQ := func() *loadTestWrapper { return loadTest(testName).DLQ("crm-pipeline.dlq") }
	configMapSamples := withDLQ().Obj()
	pvc := withDLQ().PVC("crm-recordings", "").Obj()
	url := withDLQ().URL("https://samples.example.com/crm.jsonl").Obj()
	pvcSASL := withDLQ().PVC("crm-recordings", "").SCRAM("kafka-user").Obj()
	for _, tc := range []struct {
		name        string
		lt          *streamreplayv1alpha1.LoadTest
		role        results.Role
		wantVolumes []corev1.Volume
		wantMounts  []corev1.VolumeMount
	}{
		{name: "ConfigMap, worker", lt: configMapSamples, role: results.RoleWorker, wantVolumes: []corev1.Volume{tmp, configMap}, wantMounts: []corev1.VolumeMount{tmpMount, samplesMount}},
		{name: "ConfigMap, observer", lt: configMapSamples, role: results.RoleObserver, wantVolumes: []corev1.Volume{tmp}, wantMounts: []corev1.VolumeMount{tmpMount}},
		{name: "PVC, worker", lt: pvc, role: results.RoleWorker, wantVolumes: []corev1.Volume{tmp, claim}, wantMounts: []corev1.VolumeMount{tmpMount, samplesMount}},
		{name: "PVC, observer", lt: pvc, role: results.RoleObserver, wantVolumes: []corev1.Volume{tmp}, wantMounts: []corev1.VolumeMount{tmpMount}},
		{name: "URL, worker", lt: url, role: results.RoleWorker, wantVolumes: []corev1.Volume{tmp}, wantMounts: []corev1.VolumeMount{tmpMount}},
		{name: "URL, observer", lt: url, role: results.RoleObserver, wantVolumes: []corev1.Volume{tmp}, wantMounts: []corev1.VolumeMount{tmpMount}},
		{
			name: "PVC and SASL, worker", lt: pvcSASL, role: results.RoleWorker,
			wantVolumes: []corev1.Volume{tmp, claim, sasl}, wantMounts: []corev1.VolumeMount{tmpMount, samplesMount, saslMount},
		},
		{
			name: "PVC and SASL, observer keeps the Kafka credentials", lt: pvcSASL, role: results.RoleObserver,
			wantVolumes: []corev1.Volume{tmp, sasl}, wantMounts: []corev1.VolumeMount{tmpMount, saslMount},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := tc.lt
			var pod *corev1.Pod
			if tc.role == results.RoleObserver {
				pod = mustObserverPod(t, lt)
			} else {
				pod = mustWorkerPod(t, lt, 0)
			}
			if diff := cmp.Diff(append(tc.wantVolumes, wantControlVolume), pod.Spec.Volumes); diff != "" {
				t.Errorf("volumes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(append(tc.wantMounts, wantControlMount), pod.Spec.Containers[0].VolumeMounts); diff != "" {
				t.Errorf("mounts (-want +got):\n%s", diff)
			}
			if p := podPlan(t, pod); tc.role == results.RoleObserver && p.Samples != (plan.Samples{}) {
				t.Errorf("observer plan names samples it never reads: %+v", p.Samples)
			}
		})
	}
}

func TestBuildResultsConfigMap(t *testing.T) {
	want := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "crm-cdc-peak-results",
			Namespace: "loadtests",
			Labels: map[string]string{
				"app.kubernetes.io/name":       "streamreplay",
				"app.kubernetes.io/component":  "results",
				"app.kubernetes.io/managed-by": "streamreplay-operator",
				"streamreplay.io/loadtest":     "crm-cdc-peak",
				"streamreplay.io/run-id":       testUID,
			},
		},
		Data: map[string]string{"summary.txt": "The test has not finished yet.\n"},
	}
	if diff := cmp.Diff(want, BuildResultsConfigMap(loadTest(testName).Obj())); diff != "" {
		t.Errorf("BuildResultsConfigMap mismatch (-want +got):\n%s", diff)
	}
}

func TestChildNamesFitInDNSLabel(t *testing.T) {
	// 50 characters, the API's limit; 256 workers, the most.
	lt := loadTest(strings.Repeat("a", 24) + "-" + strings.Repeat("b", 25)).Workers(256).Obj()
	if len(lt.Name) != 50 {
		t.Fatalf("test name has %d characters, want 50", len(lt.Name))
	}
	for _, tc := range []struct {
		kind, got, want string
	}{
		{"worker 0", WorkerPodName(lt, 0), lt.Name + "-worker-0"},
		{"worker 255", WorkerPodName(lt, 255), lt.Name + "-worker-255"},
		{"observer", ObserverPodName(lt), lt.Name + "-observer"},
		{"results", ResultsConfigMapName(lt), lt.Name + "-results"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s name = %q, want %q", tc.kind, tc.got, tc.want)
		}
		if len(tc.got) > 63 {
			t.Errorf("%s name %q has %d characters, more than 63", tc.kind, tc.got, len(tc.got))
		}
		if errs := validation.IsDNS1123Label(tc.got); len(errs) > 0 {
			t.Errorf("%s name %q is not a DNS label: %v", tc.kind, tc.got, errs)
		}
	}
	// The names also reach the objects, and label values stay valid.
	pod := mustWorkerPod(t, lt, 255)
	if pod.Name != lt.Name+"-worker-255" {
		t.Errorf("pod name = %q", pod.Name)
	}
	for k, v := range pod.Labels {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("label %s=%q is invalid: %v", k, v, errs)
		}
	}
}

func TestActiveDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lt      *streamreplayv1alpha1.LoadTest
		wantRun time.Duration
		want    int64
	}{
		{
			name:    "defaults: 5m ready + 30s start + 10m run + 30s drain + 5m margin",
			lt:      loadTest(testName).Obj(),
			wantRun: 10 * time.Minute,
			want:    300 + 30 + 600 + 30 + 300,
		},
		{
			name: "explicit defaults give the same",
			lt: loadTest(testName).Timeouts(streamreplayv1alpha1.Timeouts{
				PodsReady: dur(5 * time.Minute), Start: dur(30 * time.Second), Drain: dur(30 * time.Second),
			}).Obj(),
			wantRun: 10 * time.Minute,
			want:    300 + 30 + 600 + 30 + 300,
		},
		{
			name: "custom timeouts and a zero drain",
			lt: loadTest(testName).Duration(90 * time.Second).Timeouts(streamreplayv1alpha1.Timeouts{
				PodsReady: dur(time.Minute), Start: dur(10 * time.Second), Drain: dur(0),
			}).Obj(),
			wantRun: 90 * time.Second,
			want:    60 + 10 + 90 + 0 + 300,
		},
		{
			name: "long run with long timeouts",
			lt: loadTest(testName).Duration(24 * time.Hour).Timeouts(streamreplayv1alpha1.Timeouts{
				PodsReady: dur(time.Hour), Start: dur(10 * time.Minute), Drain: dur(time.Hour),
			}).Obj(),
			wantRun: 24 * time.Hour,
			want:    3600 + 600 + 86400 + 3600 + 300,
		},
		{
			name: "Stages take their length from the stages, not duration",
			lt: loadTest(testName).Stages(stage(2*time.Minute, 10), stage(3*time.Minute, 20)).
				Timeouts(streamreplayv1alpha1.Timeouts{Drain: dur(2 * time.Minute)}).Obj(),
			wantRun: 5 * time.Minute,
			want:    300 + 30 + 300 + 120 + 300,
		},
		{
			name: "sub-second parts are truncated",
			lt: loadTest(testName).Duration(1500 * time.Millisecond).Timeouts(streamreplayv1alpha1.Timeouts{
				PodsReady: dur(5 * time.Second), Start: dur(time.Second), Drain: dur(0),
			}).Obj(),
			wantRun: 1500 * time.Millisecond,
			want:    5 + 1 + 1 + 0 + 300,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := tc.lt
			if got := runLength(&lt.Spec); got != tc.wantRun {
				t.Errorf("runLength = %v, want %v", got, tc.wantRun)
			}
			if got := activeDeadline(&lt.Spec); got != tc.want {
				t.Errorf("activeDeadline = %d, want %d", got, tc.want)
			}
			pod := mustWorkerPod(t, lt, 0)
			if pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds != tc.want {
				t.Errorf("pod activeDeadlineSeconds = %v, want %d", pod.Spec.ActiveDeadlineSeconds, tc.want)
			}
		})
	}
}

func TestRateSharesAddUpToTargetRate(t *testing.T) {
	for workers := int32(1); workers <= 16; workers++ {
		for _, rate := range []int64{16, 17, 999, 1000, 5000, 12345, 10_000_000} {
			lt := loadTest(testName).Workers(workers).TargetRate(rate).Obj()
			var sum, lo, hi int64
			for i := range workers {
				share := podPlan(t, mustWorkerPod(t, lt, i)).Scenario.TargetRate
				sum += share
				if i == 0 || share < lo {
					lo = share
				}
				if i == 0 || share > hi {
					hi = share
				}
			}
			if sum != rate {
				t.Errorf("%d workers at %d/s: shares add up to %d", workers, rate, sum)
			}
			if hi-lo > 1 {
				t.Errorf("%d workers at %d/s: shares range from %d to %d, want at most 1 apart", workers, rate, lo, hi)
			}
			if lo < 1 {
				t.Errorf("%d workers at %d/s: a worker gets %d records/s", workers, rate, lo)
			}
		}
	}
}
