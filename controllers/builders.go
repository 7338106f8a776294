package controllers

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/control"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/results"
)

// Labels and names shared by every child object.
const (
	LabelName        = "app.kubernetes.io/name"
	LabelComponent   = "app.kubernetes.io/component"
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	LabelLoadTest    = "streamreplay.io/loadtest"
	LabelRunID       = "streamreplay.io/run-id"
	LabelWorkerIndex = "streamreplay.io/worker-index"

	appName = "streamreplay"
	// ManagerName is the value of LabelManagedBy on every child.
	ManagerName   = "streamreplay-operator"
	containerName = "replay"

	// ResultsKeyJSON and ResultsKeySummary are the keys of the results ConfigMap.
	ResultsKeyJSON    = "results.json"
	ResultsKeySummary = "summary.txt"

	samplesVolume  = "samples"
	samplesFile    = "samples"
	tmpVolume      = "tmp"
	caVolume       = "kafka-ca"
	clientVolume   = "kafka-client-cert"
	saslVolume     = "kafka-sasl"
	controlVolume  = "control"
	urlVolume      = "sample-url"
	headersVolume  = "sample-headers"
	urlFile        = "url"
	nonRootUser    = 65532
	secretFileMode = 0o440

	// deadlineMargin is added to the expected length of a run for activeDeadlineSeconds:
	// the backstop only has to end pods that nothing else could stop.
	deadlineMargin = 5 * time.Minute
)

// WorkerPodName is the deterministic name of worker index's pod.
func WorkerPodName(lt *streamreplayv1alpha1.LoadTest, index int32) string {
	return fmt.Sprintf("%s-worker-%d", lt.Name, index)
}

// ObserverPodName is the deterministic name of the observer pod.
func ObserverPodName(lt *streamreplayv1alpha1.LoadTest) string {
	return lt.Name + "-observer"
}

// ResultsConfigMapName is the deterministic name of the results ConfigMap.
func ResultsConfigMapName(lt *streamreplayv1alpha1.LoadTest) string {
	return lt.Name + "-results"
}

// ControlSecretName is the deterministic name of the Secret holding the run's control token.
func ControlSecretName(lt *streamreplayv1alpha1.LoadTest) string {
	return lt.Name + "-control"
}

// needsObserver tells whether the test watches anything beyond its own producers.
func needsObserver(lt *streamreplayv1alpha1.LoadTest) bool {
	return lt.Spec.DeadLetterQueue != nil || lt.Spec.Pipeline != nil
}

// childLabels are the labels of every child object; selectorLabels find the test's pods.
func childLabels(lt *streamreplayv1alpha1.LoadTest, component string) map[string]string {
	return map[string]string{
		LabelName:      appName,
		LabelComponent: component,
		LabelManagedBy: ManagerName,
		LabelLoadTest:  lt.Name,
		LabelRunID:     string(lt.UID),
	}
}

func selectorLabels(lt *streamreplayv1alpha1.LoadTest) map[string]string {
	return map[string]string{LabelLoadTest: lt.Name, LabelRunID: string(lt.UID)}
}

// runLength is how long the workers send: the duration, or the stages' total.
func runLength(spec *streamreplayv1alpha1.LoadTestSpec) time.Duration {
	if isCapacity(spec) {
		return searchLength(spec.Capacity)
	}
	if spec.Scenario.Type == streamreplayv1alpha1.ScenarioStages {
		var total time.Duration
		for _, s := range spec.Scenario.Stages {
			total += s.Duration.Duration
		}
		return total
	}
	if spec.Duration == nil {
		return 0
	}
	return spec.Duration.Duration
}

// specDuration reads a duration that admission always sets: the CRD holds its default, and
// the controller reads the spec as admission stored it. A nil (an object that never went
// through admission) reads as zero, not as a second copy of the CRD's default.
func specDuration(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

// The timeouts of the phases around the run, as admitted.
func readyTimeout(spec *streamreplayv1alpha1.LoadTestSpec) time.Duration {
	return specDuration(spec.Timeouts.PodsReady)
}

func startTimeout(spec *streamreplayv1alpha1.LoadTestSpec) time.Duration {
	return specDuration(spec.Timeouts.Start)
}

func drainPeriod(spec *streamreplayv1alpha1.LoadTestSpec) time.Duration {
	return specDuration(spec.Timeouts.Drain)
}

// activeDeadline bounds a pod's life: getting ready, starting, running, draining, plus a margin.
func activeDeadline(spec *streamreplayv1alpha1.LoadTestSpec) int64 {
	total := readyTimeout(spec) + startTimeout(spec) + runLength(spec) + drainPeriod(spec) + deadlineMargin
	return int64(total / time.Second)
}

// BuildPlan is the plan of one pod; index is ignored for the observer.
func BuildPlan(lt *streamreplayv1alpha1.LoadTest, role results.Role, index int32) plan.Plan {
	spec := &lt.Spec
	workers := max(spec.Workers, 1)
	p := plan.Plan{
		Role:     role,
		RunID:    string(lt.UID),
		LoadTest: lt.Namespace + "/" + lt.Name,
		Index:    index,
		Workers:  workers,
		Duration: metav1.Duration{Duration: runLength(spec)},
		Drain:    metav1.Duration{Duration: drainPeriod(spec)},
		Samples:  samplesPlan(&spec.SampleSet),
		Kafka:    kafkaPlan(&spec.Kafka),
		Target: plan.Target{
			Topic:        spec.Target.Topic,
			Partitioning: spec.Target.Partitioning,
			Acks:         spec.Target.Acks,
			Compression:  spec.Target.Compression,
			Producer:     plan.ProducerFrom(spec.Target.Producer),
		},
	}
	if role == results.RoleObserver {
		// The observer reads Kafka only: it gets neither the samples nor their volume.
		p.Index = 0
		p.Samples = plan.Samples{}
		if isCapacity(spec) {
			p.Scenario = plan.Scenario{Type: spec.Scenario.Type}
		}
		p.EarlyStop = earlyStopPlan(spec)
	} else {
		p.Scenario = scenarioShare(spec, workers, index)
	}
	if dlq := spec.DeadLetterQueue; dlq != nil {
		p.DLQ = &plan.DLQ{Topic: dlq.Topic, CountAllRecords: dlq.CountAllRecords, ClassifyHeader: dlq.ClassifyHeader}
	}
	if pl := spec.Pipeline; pl != nil {
		p.Pipeline = &plan.Pipeline{InputTopic: spec.Target.Topic, OutputTopic: pl.OutputTopic, ConsumerGroup: pl.ConsumerGroup}
	}
	return p
}

// scenarioShare divides every rate of the scenario between the workers.
func scenarioShare(spec *streamreplayv1alpha1.LoadTestSpec, workers, index int32) plan.Scenario {
	sc := plan.Scenario{Type: spec.Scenario.Type}
	if spec.TargetRate != nil {
		sc.TargetRate = plan.Share(*spec.TargetRate, workers, index)
	}
	if spec.Scenario.StartRate != nil {
		sc.StartRate = plan.Share(*spec.Scenario.StartRate, workers, index)
	}
	if spec.Capacity != nil {
		sc.TargetRate = plan.Share(spec.Capacity.MaxRate, workers, index) // sizes the producer's batches
	}
	for _, st := range spec.Scenario.Stages {
		sc.Stages = append(sc.Stages, plan.Stage{Duration: st.Duration, TargetRate: plan.Share(st.TargetRate, workers, index)})
	}
	if spec.Scenario.Speed != nil {
		sc.Speed = *spec.Scenario.Speed
	}
	return sc
}

func samplesPlan(s *streamreplayv1alpha1.SampleSet) plan.Samples {
	out := plan.Samples{Format: s.Format, Loop: s.Loop == nil || *s.Loop}
	switch {
	case s.ConfigMapRef != nil:
		out.Path = path.Join(plan.SamplesDir, samplesFile)
		out.Name = fmt.Sprintf("ConfigMap %q, key %q", s.ConfigMapRef.Name, s.ConfigMapRef.Key)
	case s.PersistentVolumeClaim != nil:
		out.Path = path.Join(plan.SamplesDir, s.PersistentVolumeClaim.Path)
		out.Name = fmt.Sprintf("PersistentVolumeClaim %q, path %q", s.PersistentVolumeClaim.ClaimName, s.PersistentVolumeClaim.Path)
	case s.URLSecretRef != nil:
		out.URLFile = path.Join(plan.SampleURLDir, urlFile)
		out.Name = "the URL of spec.sampleSet.urlSecretRef"
	default:
		out.URL = s.URL
	}
	if s.HeadersSecretRef != nil {
		out.HeadersDir = plan.SampleHeadersDir
	}
	return out
}

func kafkaPlan(k *streamreplayv1alpha1.Kafka) plan.Kafka {
	out := plan.Kafka{BootstrapServers: k.BootstrapServers, ClientID: k.ClientID}
	if t := k.TLS; t != nil {
		out.TLS = &plan.TLS{ServerName: t.ServerName}
		if t.CASecretRef != nil {
			out.TLS.CAFile = path.Join(plan.SecretsDir, caVolume, t.CASecretRef.Key)
		}
		if t.ClientCertSecretRef != nil {
			out.TLS.CertFile = path.Join(plan.SecretsDir, clientVolume, corev1.TLSCertKey)
			out.TLS.KeyFile = path.Join(plan.SecretsDir, clientVolume, corev1.TLSPrivateKeyKey)
		}
	}
	switch s := k.SASL; {
	case s == nil:
	case s.Mechanism == streamreplayv1alpha1.SASLAWSMSKIAM:
		// No Secret: the pod signs with its own AWS credentials.
		out.SASL = &plan.SASL{Mechanism: s.Mechanism, AWSRegion: s.AWSRegion}
	default:
		out.SASL = &plan.SASL{
			Mechanism:    s.Mechanism,
			Username:     s.Username,
			PasswordFile: path.Join(plan.SecretsDir, saslVolume, "password"),
		}
		if s.Username == "" {
			out.SASL.UsernameFile = path.Join(plan.SecretsDir, saslVolume, "username")
		}
	}
	return out
}

// BuildWorkerPod builds worker index's pod, without owner reference (the controller sets it).
func BuildWorkerPod(lt *streamreplayv1alpha1.LoadTest, index int32, image string) (*corev1.Pod, error) {
	pod, err := buildPod(lt, WorkerPodName(lt, index), BuildPlan(lt, results.RoleWorker, index), image)
	if err != nil {
		return nil, err
	}
	pod.Labels[LabelWorkerIndex] = strconv.Itoa(int(index))
	return pod, nil
}

// BuildObserverPod builds the observer's pod, without owner reference.
func BuildObserverPod(lt *streamreplayv1alpha1.LoadTest, image string) (*corev1.Pod, error) {
	return buildPod(lt, ObserverPodName(lt), BuildPlan(lt, results.RoleObserver, 0), image)
}

func buildPod(lt *streamreplayv1alpha1.LoadTest, name string, p plan.Plan, image string) (*corev1.Pod, error) {
	encoded, err := p.Encode()
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	tmpl := lt.Spec.WorkerTemplate
	if tmpl == nil {
		tmpl = &streamreplayv1alpha1.WorkerTemplate{}
	}
	if tmpl.Image != "" {
		image = tmpl.Image
	}
	// The operator's labels win over the template's.
	labels := map[string]string{}
	maps.Copy(labels, tmpl.Labels)
	maps.Copy(labels, childLabels(lt, string(p.Role)))
	volumes, mounts := podVolumes(&lt.Spec, p.Role)
	// The run's control token, which the pod requires on every control call.
	volumes = append(volumes, corev1.Volume{Name: controlVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: ControlSecretName(lt), Items: []corev1.KeyToPath{{Key: control.TokenKey, Path: control.TokenKey}}, DefaultMode: ptr.To[int32](secretFileMode),
	}}})
	mounts = append(mounts, corev1.VolumeMount{Name: controlVolume, MountPath: control.TokenDir, ReadOnly: true})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   lt.Namespace,
			Labels:      labels,
			Annotations: copyMap(tmpl.Annotations),
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptr.To(activeDeadline(&lt.Spec)),
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			ServiceAccountName:            tmpl.ServiceAccountName,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			PriorityClassName:             tmpl.PriorityClassName,
			NodeSelector:                  copyMap(tmpl.NodeSelector),
			Tolerations:                   copyTolerations(tmpl.Tolerations),
			Affinity:                      tmpl.Affinity.DeepCopy(),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](nonRootUser),
				RunAsGroup:     ptr.To[int64](nonRootUser),
				FSGroup:        ptr.To[int64](nonRootUser),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes:    volumes,
			Containers: []corev1.Container{buildContainer(p.Role, image, encoded, tmpl, mounts)},
		},
	}
	return pod, nil
}

// buildContainer is the pod's one container: the role's command, the plan, the control and
// metrics ports, the probes, the template's resources and a locked-down security context.
func buildContainer(role results.Role, image, encodedPlan string, tmpl *streamreplayv1alpha1.WorkerTemplate, mounts []corev1.VolumeMount) corev1.Container {
	resources := defaultResources()
	if tmpl.Resources != nil {
		resources = *tmpl.Resources.DeepCopy()
	}
	return corev1.Container{
		Name:            containerName,
		Image:           image,
		ImagePullPolicy: tmpl.ImagePullPolicy,
		Args:            []string{string(role), "--control-token-file=" + control.TokenFile},
		Env: []corev1.EnvVar{
			{Name: plan.EnvPlan, Value: encodedPlan},
			fieldEnv(plan.EnvPodName, "metadata.name"),
			fieldEnv(plan.EnvPodNamespace, "metadata.namespace"),
			fieldEnv(plan.EnvPodIP, "status.podIP"),
		},
		Ports: []corev1.ContainerPort{
			{Name: plan.ControlPortName, ContainerPort: plan.ControlPort, Protocol: corev1.ProtocolTCP},
			{Name: plan.MetricsPortName, ContainerPort: plan.MetricsPort, Protocol: corev1.ProtocolTCP},
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     httpProbe("/readyz"),
			PeriodSeconds:    2,
			FailureThreshold: 1,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:     httpProbe("/healthz"),
			PeriodSeconds:    10,
			FailureThreshold: 6,
		},
		Resources:                resources,
		VolumeMounts:             mounts,
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

func fieldEnv(name, fieldPath string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: fieldPath}}}
}

func httpProbe(p string) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: p, Port: intstr.FromString(plan.MetricsPortName)}}
}

func defaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
}

// podVolumes mounts every Secret the Kafka settings name and, for workers only, the
// samples: the observer never reads them, and a ReadWriteOnce claim mounted by it too
// could keep a worker from starting. A writable emptyDir at /tmp lets the root
// filesystem stay read-only.
func podVolumes(spec *streamreplayv1alpha1.LoadTestSpec, role results.Role) ([]corev1.Volume, []corev1.VolumeMount) {
	volumes := []corev1.Volume{{Name: tmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mounts := []corev1.VolumeMount{{Name: tmpVolume, MountPath: "/tmp"}}

	switch s := spec.SampleSet; {
	case role != results.RoleWorker:
	case s.ConfigMapRef != nil:
		volumes = append(volumes, corev1.Volume{Name: samplesVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.ConfigMapRef.Name},
			Items:                []corev1.KeyToPath{{Key: s.ConfigMapRef.Key, Path: samplesFile}},
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: samplesVolume, MountPath: plan.SamplesDir, ReadOnly: true})
	case s.PersistentVolumeClaim != nil:
		volumes = append(volumes, corev1.Volume{Name: samplesVolume, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
			ClaimName: s.PersistentVolumeClaim.ClaimName, ReadOnly: true,
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: samplesVolume, MountPath: plan.SamplesDir, ReadOnly: true})
	}

	addSecretAt := func(volume, secret string, items []corev1.KeyToPath, dir string) {
		volumes = append(volumes, corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secret, Items: items, DefaultMode: ptr.To[int32](secretFileMode),
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: volume, MountPath: dir, ReadOnly: true})
	}
	addSecret := func(volume, secret string, items []corev1.KeyToPath) {
		addSecretAt(volume, secret, items, path.Join(plan.SecretsDir, volume))
	}
	// The sample URL and its headers, when they come from Secrets: files, never env,
	// and for the workers only, which load the samples.
	if ref := spec.SampleSet.URLSecretRef; ref != nil && role == results.RoleWorker {
		addSecretAt(urlVolume, ref.Name, []corev1.KeyToPath{{Key: ref.Key, Path: urlFile}}, plan.SampleURLDir)
	}
	if ref := spec.SampleSet.HeadersSecretRef; ref != nil && role == results.RoleWorker {
		addSecretAt(headersVolume, ref.Name, nil, plan.SampleHeadersDir)
	}
	if t := spec.Kafka.TLS; t != nil {
		if t.CASecretRef != nil {
			addSecret(caVolume, t.CASecretRef.Name, []corev1.KeyToPath{{Key: t.CASecretRef.Key, Path: t.CASecretRef.Key}})
		}
		if t.ClientCertSecretRef != nil {
			// The Secret's keys, whatever their names (Strimzi's user.crt, user.key), become fixed file names.
			addSecret(clientVolume, t.ClientCertSecretRef.Name, []corev1.KeyToPath{
				{Key: cmp.Or(t.ClientCertKey, corev1.TLSCertKey), Path: corev1.TLSCertKey},
				{Key: cmp.Or(t.ClientKeyKey, corev1.TLSPrivateKeyKey), Path: corev1.TLSPrivateKeyKey},
			})
		}
	}
	if s := spec.Kafka.SASL; s != nil && s.SecretRef.Name != "" {
		items := []corev1.KeyToPath{{Key: cmp.Or(s.PasswordKey, "password"), Path: "password"}}
		if s.Username == "" {
			items = append([]corev1.KeyToPath{{Key: cmp.Or(s.UsernameKey, "username"), Path: "username"}}, items...)
		}
		addSecret(saslVolume, s.SecretRef.Name, items)
	}
	return volumes, mounts
}

// copyMap copies a map, giving nil for an empty one so that built pods compare equal
// whether the template left the field out or set it empty.
func copyMap(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	return maps.Clone(in)
}

func copyTolerations(in []corev1.Toleration) []corev1.Toleration {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.Toleration, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}

// BuildControlSecret builds the Secret that gives the run's pods their control token,
// without owner reference. Immutable: the token of a run never changes.
func BuildControlSecret(lt *streamreplayv1alpha1.LoadTest, token string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ControlSecretName(lt),
			Namespace: lt.Namespace,
			Labels:    childLabels(lt, "control"),
		},
		Type:      corev1.SecretTypeOpaque,
		Immutable: ptr.To(true),
		Data:      map[string][]byte{control.TokenKey: []byte(token)},
	}
}

// BuildResultsConfigMap builds the results ConfigMap as it is before the run ends.
func BuildResultsConfigMap(lt *streamreplayv1alpha1.LoadTest) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ResultsConfigMapName(lt),
			Namespace: lt.Namespace,
			Labels:    childLabels(lt, "results"),
		},
		Data: map[string]string{ResultsKeySummary: "The test has not finished yet.\n"},
	}
}
