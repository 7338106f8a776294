package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScenarioType says how the offered load evolves over the run.
// +kubebuilder:validation:Enum=Constant;Ramp;Stages;Replay;Capacity
type ScenarioType string

const (
	// ScenarioConstant sends at targetRate for the whole duration.
	ScenarioConstant ScenarioType = "Constant"
	// ScenarioRamp rises linearly from startRate to targetRate over the duration.
	ScenarioRamp ScenarioType = "Ramp"
	// ScenarioStages follows the stages, ramping linearly from one target to the next.
	ScenarioStages ScenarioType = "Stages"
	// ScenarioReplay sends at the recorded timestamps of the samples, scaled by speed.
	ScenarioReplay ScenarioType = "Replay"
	// ScenarioCapacity searches for the highest rate the pipeline sustains, within spec.capacity.
	ScenarioCapacity ScenarioType = "Capacity"
)

// SampleFormat is the encoding of a sample set.
// +kubebuilder:validation:Enum=Auto;JSONLines;Kcat
type SampleFormat string

const (
	// SampleFormatAuto detects the format of each file from its first record.
	SampleFormatAuto SampleFormat = "Auto"
	// SampleFormatJSONLines is one JSON record per line: key, value, headers, timestamp, topic, partition.
	SampleFormatJSONLines SampleFormat = "JSONLines"
	// SampleFormatKcat is the output of `kcat -C -J`.
	SampleFormatKcat SampleFormat = "Kcat"
)

// Partitioning chooses the partition of each replayed record.
// +kubebuilder:validation:Enum=Key;Recorded;RoundRobin
type Partitioning string

const (
	// PartitioningKey hashes the key with murmur2, as the Java client does.
	PartitioningKey Partitioning = "Key"
	// PartitioningRecorded uses the partition recorded in the sample.
	PartitioningRecorded Partitioning = "Recorded"
	// PartitioningRoundRobin spreads records over all partitions in turn.
	PartitioningRoundRobin Partitioning = "RoundRobin"
)

// Acks is the acknowledgement the producer waits for.
// +kubebuilder:validation:Enum=All;Leader;None
type Acks string

const (
	// AcksAll waits for all in-sync replicas.
	AcksAll Acks = "All"
	// AcksLeader waits for the partition leader only.
	AcksLeader Acks = "Leader"
	// AcksNone does not wait; latency then measures only the send.
	AcksNone Acks = "None"
)

// Compression is the producer's batch compression codec.
// +kubebuilder:validation:Enum=None;Gzip;Snappy;Lz4;Zstd
type Compression string

// Compression codecs.
const (
	CompressionNone   Compression = "None"
	CompressionGzip   Compression = "Gzip"
	CompressionSnappy Compression = "Snappy"
	CompressionLz4    Compression = "Lz4"
	CompressionZstd   Compression = "Zstd"
)

// SASLMechanism is the SASL mechanism used to authenticate to Kafka.
// +kubebuilder:validation:Enum=PLAIN;SCRAM-SHA-256;SCRAM-SHA-512;AWS_MSK_IAM
type SASLMechanism string

// SASL mechanisms.
const (
	SASLPlain       SASLMechanism = "PLAIN"
	SASLScramSHA256 SASLMechanism = "SCRAM-SHA-256"
	SASLScramSHA512 SASLMechanism = "SCRAM-SHA-512"
	// SASLAWSMSKIAM is Amazon MSK's IAM access control: requests signed with the pod's AWS
	// credentials (IRSA or EKS Pod Identity), no Secret.
	SASLAWSMSKIAM SASLMechanism = "AWS_MSK_IAM"
)

// CleanupPolicy says when the operator deletes the pods of a finished LoadTest.
// +kubebuilder:validation:Enum=Always;OnSuccess;Never
type CleanupPolicy string

const (
	// CleanupAlways deletes the pods after the TTL whatever the outcome.
	CleanupAlways CleanupPolicy = "Always"
	// CleanupOnSuccess deletes the pods after the TTL only when the test passed, keeping them for debugging otherwise.
	CleanupOnSuccess CleanupPolicy = "OnSuccess"
	// CleanupNever keeps the pods.
	CleanupNever CleanupPolicy = "Never"
)

// Phase is where a LoadTest is in its run.
// +kubebuilder:validation:Enum=Pending;Starting;Running;Draining;Passed;Failed;Error;Aborted
type Phase string

const (
	// PhasePending means accepted, children not created yet.
	PhasePending Phase = "Pending"
	// PhaseStarting means pods created, waiting for all of them to be Ready.
	PhaseStarting Phase = "Starting"
	// PhaseRunning means the start time is set and the workers replay.
	PhaseRunning Phase = "Running"
	// PhaseDraining means the workers are done, the observer still reads the DLQ and the output.
	PhaseDraining Phase = "Draining"
	// PhasePassed means the run finished and met every threshold.
	PhasePassed Phase = "Passed"
	// PhaseFailed means the run finished and broke at least one threshold.
	PhaseFailed Phase = "Failed"
	// PhaseError means the test could not be run or measured.
	PhaseError Phase = "Error"
	// PhaseAborted means the test was stopped on request.
	PhaseAborted Phase = "Aborted"
)

// Finished reports whether the phase is terminal.
func (p Phase) Finished() bool {
	switch p {
	case PhasePassed, PhaseFailed, PhaseError, PhaseAborted:
		return true
	default:
		return false
	}
}

// Verdict is the machine-readable outcome of a LoadTest.
// +kubebuilder:validation:Enum=Pass;Fail;Inconclusive
type Verdict string

const (
	// VerdictPass means every threshold was met.
	VerdictPass Verdict = "Pass"
	// VerdictFail means at least one threshold was broken.
	VerdictFail Verdict = "Fail"
	// VerdictInconclusive means the run errored or was aborted, so the thresholds say nothing.
	VerdictInconclusive Verdict = "Inconclusive"
)

// Condition types and reasons written on a LoadTest. Reconciling, Ready and Stalled follow
// kstatus so that Flux and Argo CD read the state right.
const (
	ConditionReconciling = "Reconciling"
	ConditionReady       = "Ready"
	ConditionStalled     = "Stalled"
	// ConditionStarted is True once every pod acknowledged the start signal.
	ConditionStarted = "Started"
	// ConditionStopping is True once every running pod acknowledged a stop request.
	ConditionStopping = "Stopping"
	// ConditionEarlyStopped is True once a threshold broke beyond repair and the run
	// was stopped early (spec.earlyStop); its reason names the threshold.
	ConditionEarlyStopped = "EarlyStopped"
)

// Stage is one step of a Stages scenario.
type Stage struct {
	// duration is how long the rate takes to move linearly from the previous stage's target (0 for the first stage) to this stage's target.
	// Between 1s and 24h.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="stage duration must be between 1s and 24h, written like 90s, 2m or 1h30m"
	Duration metav1.Duration `json:"duration"`

	// targetRate is the rate in records per second, all workers together, at the end of the stage.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000000
	TargetRate int64 `json:"targetRate"`
}

// Scenario says how the offered load evolves over time.
// +kubebuilder:validation:XValidation:rule="self.type == 'Stages' ? has(self.stages) && size(self.stages) > 0 : !has(self.stages)",message="stages must be set for type Stages and only for it"
// +kubebuilder:validation:XValidation:rule="!has(self.stages) || self.stages.exists(s, s.targetRate > 0)",message="stages need at least one stage with a targetRate above 0: a run that sends nothing measures nothing",fieldPath=".stages"
// +kubebuilder:validation:XValidation:rule="self.type == 'Replay' || !has(self.speed)",message="speed is only allowed with type Replay"
// +kubebuilder:validation:XValidation:rule="self.type == 'Ramp' || !has(self.startRate)",message="startRate is only allowed with type Ramp"
type Scenario struct {
	// type is how the load evolves: Constant, Ramp (linear from startRate to targetRate), Stages (linear ramps between stage targets) or Replay (the recorded inter-arrival times, scaled by speed).
	// +optional
	// +kubebuilder:default=Constant
	Type ScenarioType `json:"type,omitempty"`

	// startRate is the rate at the start of a Ramp, in records per second; 0 by default.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000000
	StartRate *int64 `json:"startRate,omitempty"`

	// stages are the steps of a Stages scenario, in order. Their durations add up to the run's length.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Stages []Stage `json:"stages,omitempty"`

	// speed scales the recorded inter-arrival times of a Replay scenario: "2.0" replays twice as fast as recorded.
	// A decimal between 0.001 and 1000.
	// +optional
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[0-9]+([.][0-9]+)?$') || (double(self) >= 0.001 && double(self) <= 1000.0)",message="speed must be between 0.001 and 1000"
	Speed *string `json:"speed,omitempty"`
}

// CapacitySearch bounds the search of a Capacity scenario: probes from startRate, doubling while the pipeline sustains the rate, then bisecting until the bracket is within precision.
// +kubebuilder:validation:XValidation:rule="self.startRate <= self.maxRate",message="capacity.startRate must be at most capacity.maxRate"
type CapacitySearch struct {
	// startRate is the first probe's rate in records per second, all workers together.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	StartRate int64 `json:"startRate"`

	// maxRate is the highest rate probed, records per second; a search that sustains it ends limited by MaxRate.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	MaxRate int64 `json:"maxRate"`

	// probeDuration is how long each probe holds its rate, between 10s and 1h; 60s by default.
	// It should span at least 20 commit intervals of the pipeline's consumer, so that the lag's slope means something.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('10s') && duration(self) <= duration('1h')",message="probeDuration must be between 10s and 1h, written like 30s or 2m"
	ProbeDuration *metav1.Duration `json:"probeDuration,omitempty"`

	// precision is the relative width at which the search stops, a decimal between 0.001 and 0.5: "0.05" ends when the lowest failed rate is within 5% of the highest sustained one.
	// +optional
	// +kubebuilder:default="0.05"
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:XValidation:rule="self.matches('^0[.][0-9]+$') && double(self) >= 0.001 && double(self) <= 0.5",message="precision must be a decimal between 0.001 and 0.5, such as \"0.05\""
	Precision *string `json:"precision,omitempty"`

	// drainTimeout is how long the backlog may take to drain after a probe before the next; one not drained ends the search limited by the pipeline.
	// Between 0s and 1h; 60s by default.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('0s') && duration(self) <= duration('1h')",message="drainTimeout must be between 0s and 1h, written like 30s or 2m"
	DrainTimeout *metav1.Duration `json:"drainTimeout,omitempty"`
}

// LimitingFactor says what limited a capacity search.
// +kubebuilder:validation:Enum=Pipeline;Broker;Generator;MaxRate
type LimitingFactor string

const (
	// LimitingPipeline means the pipeline fell behind while the broker took the load: lag grew, or end-to-end p99 or dead letters broke their limits.
	LimitingPipeline LimitingFactor = "Pipeline"
	// LimitingBroker means produce errors or produce latency rose, whatever the pipeline did.
	LimitingBroker LimitingFactor = "Broker"
	// LimitingGenerator means the workers could not send the rate: add workers; it is not a limit of the pipeline.
	LimitingGenerator LimitingFactor = "Generator"
	// LimitingMaxRate means the search sustained capacity.maxRate; the pipeline may take more.
	LimitingMaxRate LimitingFactor = "MaxRate"
)

// CapacityProbe is the probe of a Capacity search in progress.
type CapacityProbe struct {
	// index is the probe's number in the search, from 0.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=64
	Index int32 `json:"index"`

	// rate is the probe's rate in records per second, all workers together.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000000
	Rate int64 `json:"rate"`

	// startTime is when the probe's rate starts, the same for every pod.
	// +required
	StartTime PreciseTime `json:"startTime"`
}

// ConfigMapKeyRef names one key of a ConfigMap in the LoadTest's namespace.
type ConfigMapKeyRef struct {
	// name is the ConfigMap's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a Kubernetes object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	Name string `json:"name"`

	// key is the key that holds the samples (binaryData for gzipped sets).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// SampleVolume is a PersistentVolumeClaim holding a sample file or a folder of them.
type SampleVolume struct {
	// claimName is the PersistentVolumeClaim's name; it is mounted read-only.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="claimName must be a Kubernetes object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	ClaimName string `json:"claimName"`

	// path is the sample file or folder inside the volume; the volume's root by default.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="path must be relative and must not contain '..'"
	Path string `json:"path,omitempty"`
}

// SampleSet is where the recorded records come from. Exactly one source is set.
// +kubebuilder:validation:XValidation:rule="[has(self.configMapRef), has(self.persistentVolumeClaim), has(self.url) || has(self.urlSecretRef)].filter(x, x).size() == 1",message="exactly one of configMapRef, persistentVolumeClaim and url must be set (or urlSecretRef instead of url)"
// +kubebuilder:validation:XValidation:rule="!has(self.url) || !has(self.urlSecretRef)",message="url and urlSecretRef are exclusive: put the whole URL in the Secret"
// +kubebuilder:validation:XValidation:rule="!has(self.headersSecretRef) || has(self.url) || has(self.urlSecretRef)",message="headersSecretRef needs url or urlSecretRef"
type SampleSet struct {
	// configMapRef is a ConfigMap key holding the samples (gzip is recognised by its magic bytes).
	// +optional
	ConfigMapRef *ConfigMapKeyRef `json:"configMapRef,omitempty"`

	// persistentVolumeClaim is a volume holding a sample file or a folder of them.
	// +optional
	PersistentVolumeClaim *SampleVolume `json:"persistentVolumeClaim,omitempty"`

	// url is an HTTP(S) address the pods download the samples from.
	// Anyone who can read the LoadTest reads it, and it reaches the pods in their plan: a URL that carries a credential (a signed URL, a token in the query) belongs in urlSecretRef, a header such as Authorization in headersSecretRef.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'https' || url(self).getScheme() == 'http')",message="url must be an http or https URL"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')",message="url must not carry a user or password: put the URL in a Secret and name it in urlSecretRef"
	URL string `json:"url,omitempty"`

	// urlSecretRef is a Secret key holding the HTTP(S) URL of the samples, for a URL that carries a credential.
	// The workers read it from a mounted file; it is never in their environment, arguments, logs or status.
	// +optional
	URLSecretRef *SecretKeyRef `json:"urlSecretRef,omitempty"`

	// headersSecretRef is a Secret whose keys are HTTP headers (key: header name, value: header value, such as Authorization: Bearer ...) sent with the download of url or urlSecretRef, to its host only, never to a host it redirects to.
	// Mounted as files.
	// +optional
	HeadersSecretRef *SecretRef `json:"headersSecretRef,omitempty"`

	// format is the encoding of the samples: JSONLines, Kcat (kcat -J output), or Auto, which detects it from the first record of each file (plain or gzip).
	// +optional
	// +kubebuilder:default=Auto
	Format SampleFormat `json:"format,omitempty"`

	// loop starts again at the beginning of the set when a worker reaches its end.
	// With loop false, every sample is sent once at the rate, until the samples or the duration run out: a worker whose share of the samples runs out first stops, and the results say so.
	// +optional
	// +kubebuilder:default=true
	Loop *bool `json:"loop,omitempty"`
}

// SecretKeyRef names one key of a Secret in the LoadTest's namespace.
type SecretKeyRef struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a Kubernetes object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	Name string `json:"name"`

	// key is the key inside the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// SecretRef names a Secret in the LoadTest's namespace.
type SecretRef struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a Kubernetes object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	Name string `json:"name"`
}

// KafkaTLS configures TLS to the brokers. Secrets reach the pods as mounted files only.
// +kubebuilder:validation:XValidation:rule="has(self.clientCertSecretRef) || (!has(self.clientCertKey) && !has(self.clientKeyKey))",message="clientCertKey and clientKeyKey name keys of clientCertSecretRef: set clientCertSecretRef too"
type KafkaTLS struct {
	// caSecretRef is a Secret key holding the PEM bundle of CAs that sign the brokers' certificates; the system's roots are used when unset.
	// +optional
	CASecretRef *SecretKeyRef `json:"caSecretRef,omitempty"`

	// clientCertSecretRef is a Secret with the client certificate and key for mutual TLS: a kubernetes.io/tls Secret (tls.crt, tls.key), or other keys named by clientCertKey and clientKeyKey.
	// +optional
	ClientCertSecretRef *SecretRef `json:"clientCertSecretRef,omitempty"`

	// clientCertKey is the key of clientCertSecretRef holding the PEM certificate; tls.crt when unset (a Strimzi KafkaUser's Secret: user.crt).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	ClientCertKey string `json:"clientCertKey,omitempty"`

	// clientKeyKey is the key of clientCertSecretRef holding the PEM private key; tls.key when unset (a Strimzi KafkaUser's Secret: user.key).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	ClientKeyKey string `json:"clientKeyKey,omitempty"`

	// serverName overrides the name checked against the brokers' certificates.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServerName string `json:"serverName,omitempty"`
}

// KafkaSASL configures SASL authentication.
// +kubebuilder:validation:XValidation:rule="!has(self.username) || !has(self.usernameKey)",message="set username or usernameKey, not both: username is the user name itself, usernameKey the Secret key holding it"
// +kubebuilder:validation:XValidation:rule="self.mechanism == 'AWS_MSK_IAM' || has(self.secretRef)",message="secretRef is required with mechanism PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"
// +kubebuilder:validation:XValidation:rule="self.mechanism != 'AWS_MSK_IAM' || !(has(self.secretRef) || has(self.username) || has(self.usernameKey) || has(self.passwordKey))",message="mechanism AWS_MSK_IAM signs with the pod's AWS credentials (IRSA or EKS Pod Identity through serviceAccountName): remove secretRef, username, usernameKey and passwordKey"
// +kubebuilder:validation:XValidation:rule="!has(self.awsRegion) || self.mechanism == 'AWS_MSK_IAM'",message="awsRegion is only used by mechanism AWS_MSK_IAM"
type KafkaSASL struct {
	// mechanism is PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM (Amazon MSK's IAM access control, with the pods' AWS credentials; needs tls).
	// +required
	Mechanism SASLMechanism `json:"mechanism"`

	// secretRef is a Secret with the keys `username` and `password` (or those named by usernameKey and passwordKey), mounted as files.
	// Required by PLAIN and SCRAM; AWS_MSK_IAM takes none.
	// +optional
	SecretRef SecretRef `json:"secretRef,omitzero"`

	// awsRegion is the AWS region of the MSK cluster, for AWS_MSK_IAM; the pods' AWS_REGION (set by IRSA and EKS Pod Identity) when unset.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9]+$`
	AWSRegion string `json:"awsRegion,omitempty"`

	// username is the user name, for a Secret that holds only the password: a Strimzi KafkaUser's Secret (key `password`), whose user name is the KafkaUser's name.
	// The Secret's username key is then not read.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Username string `json:"username,omitempty"`

	// usernameKey is the Secret key holding the user name; `username` when unset.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	UsernameKey string `json:"usernameKey,omitempty"`

	// passwordKey is the Secret key holding the password; `password` when unset (as in a Strimzi KafkaUser's Secret).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	PasswordKey string `json:"passwordKey,omitempty"`

	// allowPlainWithoutTLS lets mechanism PLAIN run over a connection without TLS, which sends the password in clear text.
	// Set it only for a test cluster on a network you trust; without it, PLAIN needs kafka.tls.
	// +optional
	AllowPlainWithoutTLS bool `json:"allowPlainWithoutTLS,omitempty"`
}

// Kafka is how the pods reach the cluster under test.
// +kubebuilder:validation:XValidation:rule="!has(self.sasl) || self.sasl.mechanism != 'PLAIN' || has(self.tls) || (has(self.sasl.allowPlainWithoutTLS) && self.sasl.allowPlainWithoutTLS)",message="sasl mechanism PLAIN without tls sends the password in clear text: set tls, or set sasl.allowPlainWithoutTLS to true on a network you trust",fieldPath=".sasl"
// +kubebuilder:validation:XValidation:rule="!has(self.sasl) || self.sasl.mechanism != 'AWS_MSK_IAM' || has(self.tls)",message="sasl mechanism AWS_MSK_IAM needs tls: MSK serves IAM authentication on its TLS listener (port 9098) only",fieldPath=".sasl"
type Kafka struct {
	// bootstrapServers are host:port addresses of brokers.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=260
	// +kubebuilder:validation:items:Pattern=`^[^\s:]+:[0-9]{1,5}$`
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('^.+:[0-9]{1,5}$') || (int(self.substring(self.lastIndexOf(':') + 1)) >= 1 && int(self.substring(self.lastIndexOf(':') + 1)) <= 65535)",message="the port of a bootstrap server must be between 1 and 65535"
	BootstrapServers []string `json:"bootstrapServers"`

	// tls enables TLS to the brokers.
	// +optional
	TLS *KafkaTLS `json:"tls,omitempty"`

	// sasl enables SASL authentication, over TLS (PLAIN without TLS needs sasl.allowPlainWithoutTLS).
	// +optional
	SASL *KafkaSASL `json:"sasl,omitempty"`

	// clientID is the Kafka client id of the pods, useful for broker-side quotas and logs.
	// +optional
	// +kubebuilder:default=streamreplay
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9._-]+$`
	ClientID string `json:"clientID,omitempty"`
}

// Target is where and how records are produced.
type Target struct {
	// topic receives every replayed record.
	// A topic recorded in the samples (every kcat -J line names one) is never written to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=249
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9._-]+$') && self != '.' && self != '..'",message="topic must be a Kafka topic name: up to 249 letters, digits, '.', '_' and '-', and not '.' or '..'"
	Topic string `json:"topic"`

	// partitioning is Key (murmur2 of the key, as the Java client), Recorded (the sample's partition) or RoundRobin.
	// +optional
	// +kubebuilder:default=Key
	Partitioning Partitioning `json:"partitioning,omitempty"`

	// acks is what the producer waits for: All, Leader or None.
	// +optional
	// +kubebuilder:default=All
	Acks Acks `json:"acks,omitempty"`

	// compression is the batch codec: None, Gzip, Snappy, Lz4 or Zstd.
	// +optional
	// +kubebuilder:default=None
	Compression Compression `json:"compression,omitempty"`

	// producer holds the producer settings users tune on the Java producer; each unset field keeps its documented default.
	// +optional
	Producer *Producer `json:"producer,omitempty"`
}

// Producer is the worker's batching, retry and timeout settings (Java's batch.size, linger.ms, retries, request.timeout.ms).
type Producer struct {
	// batchSize is the most records in one batch to one partition. Default: about 10 ms of the peak rate, between 100 and 2048.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	BatchSize *int32 `json:"batchSize,omitempty"`

	// batchBytes is the most bytes in one batch to one partition (Java's batch.size). Default 1 MiB; a larger record goes alone.
	// +optional
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=67108864
	BatchBytes *int64 `json:"batchBytes,omitempty"`

	// linger is how long a batch that is not full waits for more records (Java's linger.ms). Default 5ms; at most 1s.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('0s') && duration(self) <= duration('1s')",message="linger must be between 0 and 1s, written like 5ms"
	Linger *metav1.Duration `json:"linger,omitempty"`

	// maxAttempts is how many times a batch is sent before its records count as failed (Java's retries + 1). Default 6, which outlasts a leader election.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxAttempts *int32 `json:"maxAttempts,omitempty"`

	// writeTimeout is how long one produce request may take before it counts as a failed attempt (Java's request.timeout.ms). Default 10s.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('100ms') && duration(self) <= duration('5m')",message="writeTimeout must be between 100ms and 5m, written like 10s"
	WriteTimeout *metav1.Duration `json:"writeTimeout,omitempty"`
}

// DeadLetterQueue is the pipeline's dead-letter topic, watched by the observer pod.
type DeadLetterQueue struct {
	// topic is the dead-letter topic; it must differ from target.topic and pipeline.outputTopic.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=249
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9._-]+$') && self != '.' && self != '..'",message="topic must be a Kafka topic name: up to 249 letters, digits, '.', '_' and '-', and not '.' or '..'"
	Topic string `json:"topic"`

	// countAllRecords counts every dead letter written during the run, not only those that carry this run's id header (for pipelines that drop headers).
	// +optional
	CountAllRecords bool `json:"countAllRecords,omitempty"`

	// classifyHeader is a header whose value classifies dead letters, used before the Kafka Connect and Spring Kafka error headers.
	// +optional
	// +kubebuilder:validation:MaxLength=249
	ClassifyHeader string `json:"classifyHeader,omitempty"`
}

// Pipeline describes what the pipeline under test does with the replayed records.
// +kubebuilder:validation:XValidation:rule="has(self.outputTopic) || has(self.consumerGroup)",message="pipeline needs outputTopic, consumerGroup or both"
type Pipeline struct {
	// outputTopic is where the pipeline writes its results; the observer reads it to measure end-to-end latency and delivery.
	// It must differ from target.topic.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=249
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9._-]+$') && self != '.' && self != '..'",message="outputTopic must be a Kafka topic name: up to 249 letters, digits, '.', '_' and '-', and not '.' or '..'"
	OutputTopic string `json:"outputTopic,omitempty"`

	// consumerGroup is the pipeline's consumer group on the input topic; its lag is sampled during the run.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	ConsumerGroup string `json:"consumerGroup,omitempty"`
}

// The defaults that admission writes into spec.thresholds when they are left out, so that
// a run with errors or a shortfall never passes silently and the record shows the limits
// it was judged by. Keep them in step with the default markers of Thresholds.
const (
	DefaultMinAchievedRateRatio = "0.95"
	DefaultMaxErrorRatio        = "0.001"
)

// Thresholds decide the verdict.
// minAchievedRateRatio and maxErrorRatio are always set (admission writes their defaults); the others are optional.
type Thresholds struct {
	// minAchievedRateRatio is the least share of the scheduled records that must be acknowledged, a decimal between 0 and 1.
	// Defaults to "0.95"; "0" accepts any rate.
	// +optional
	// +kubebuilder:default="0.95"
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0([.][0-9]+)?|1([.]0+)?)$')",message="minAchievedRateRatio must be a decimal between 0 and 1, such as \"0.95\""
	MinAchievedRateRatio *string `json:"minAchievedRateRatio,omitempty"`

	// maxErrorRatio is the largest share of the sent records that may fail to be acknowledged, a decimal between 0 and 1.
	// Defaults to "0.001"; "1" accepts any share of errors.
	// +optional
	// +kubebuilder:default="0.001"
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0([.][0-9]+)?|1([.]0+)?)$')",message="maxErrorRatio must be a decimal between 0 and 1, such as \"0.001\""
	MaxErrorRatio *string `json:"maxErrorRatio,omitempty"`

	// maxDLQRecords is the most dead letters of this run allowed; needs deadLetterQueue.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000000000
	MaxDLQRecords *int64 `json:"maxDLQRecords,omitempty"`

	// maxP99Latency is the largest p99 of the produce acknowledgement latency, measured from each record's intended send time (so a producer that falls behind shows it).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) > duration('0s') && duration(self) <= duration('1h')",message="maxP99Latency must be more than 0 and at most 1h, written like 250ms or 2s"
	MaxP99Latency *metav1.Duration `json:"maxP99Latency,omitempty"`

	// maxEndToEndP99Latency is the largest p99 from intended send time to the record's arrival on the pipeline's output topic; needs pipeline.outputTopic.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) > duration('0s') && duration(self) <= duration('1h')",message="maxEndToEndP99Latency must be more than 0 and at most 1h, written like 500ms or 2s"
	MaxEndToEndP99Latency *metav1.Duration `json:"maxEndToEndP99Latency,omitempty"`

	// maxConsumerLag is the largest lag, in records, of the pipeline's consumer group seen during the run; needs pipeline.consumerGroup.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000000000
	MaxConsumerLag *int64 `json:"maxConsumerLag,omitempty"`

	// minCapacity is the least capacity, in records per second, that a Capacity search must find; needs scenario Capacity.
	// A search limited by the load generator below it fails too: the pipeline was not measured there.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000000
	MinCapacity *int64 `json:"minCapacity,omitempty"`
}

// WorkerTemplate customises the pods the operator creates (workers and observer).
type WorkerTemplate struct {
	// image overrides the operator's own image for the pods.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// imagePullPolicy of the pods' container.
	// +optional
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// resources of the pods' container; the operator's defaults when unset.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// nodeSelector for the pods.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations for the pods.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity for the pods, for example to spread workers over nodes.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// serviceAccountName the pods run as; its token is not mounted.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="serviceAccountName must be a Kubernetes object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// priorityClassName of the pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="priorityClassName must be a Kubernetes object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// labels added to the pods (the operator's own labels win on conflict).
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Labels map[string]string `json:"labels,omitempty"`

	// annotations added to the pods.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Cleanup says what happens to the pods of a finished LoadTest.
// The LoadTest and its results ConfigMap always stay.
type Cleanup struct {
	// policy is Always, OnSuccess (keep the pods of a failed test for debugging) or Never.
	// +optional
	// +kubebuilder:default=OnSuccess
	Policy CleanupPolicy `json:"policy,omitempty"`

	// ttlSecondsAfterFinished is how long the pods stay after the test finished.
	// +optional
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2592000
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// EarlyStop ends a run Failed as soon as one of its thresholds is broken beyond repair,
// instead of pushing load into a failing pipeline for the rest of its duration.
type EarlyStop struct {
	// window is how long the consumer lag must stay above thresholds.maxConsumerLag, and keep growing, before the run stops; between 4s and 10m.
	// The other thresholds stop the run as soon as the final verdict could no longer be a pass.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('4s') && duration(self) <= duration('10m')",message="earlyStop.window must be between 4s and 10m, written like 10s or 1m"
	Window *metav1.Duration `json:"window,omitempty"`
}

// Timeouts bound the phases before the run, so that nothing waits forever.
type Timeouts struct {
	// podsReady is how long all pods may take to become Ready (image pull, sample download, Kafka checks).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('5s') && duration(self) <= duration('1h')",message="podsReady must be between 5s and 1h, written like 90s or 5m"
	PodsReady *metav1.Duration `json:"podsReady,omitempty"`

	// start is how long the operator keeps trying to deliver the start signal to every pod.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('1s') && duration(self) <= duration('10m')",message="start must be between 1s and 10m, written like 30s or 2m"
	Start *metav1.Duration `json:"start,omitempty"`

	// drain is how long the observer keeps reading the DLQ and the output topic after the workers end.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('0s') && duration(self) <= duration('1h')",message="drain must be between 0s and 1h, written like 30s or 2m"
	Drain *metav1.Duration `json:"drain,omitempty"`
}

// LoadTestSpec is one load-test run. It is immutable once created, except stop.
// +kubebuilder:validation:XValidation:rule="self.scenario.type != 'Stages' || !has(self.duration)",message="duration must not be set for a Stages scenario: the stages' durations give the length"
// +kubebuilder:validation:XValidation:rule="self.scenario.type in ['Stages', 'Replay', 'Capacity'] || has(self.targetRate)",message="targetRate is required for Constant and Ramp scenarios"
// +kubebuilder:validation:XValidation:rule="self.scenario.type != 'Stages' || !has(self.targetRate)",message="targetRate must not be set for a Stages scenario: the stages' targetRates give the rate",fieldPath=".targetRate"
// +kubebuilder:validation:XValidation:rule="!has(self.deadLetterQueue) || self.deadLetterQueue.topic != self.target.topic",message="deadLetterQueue.topic must differ from target.topic: the observer would count the replayed records as dead letters",fieldPath=".deadLetterQueue.topic"
// +kubebuilder:validation:XValidation:rule="!has(self.pipeline) || !has(self.pipeline.outputTopic) || self.pipeline.outputTopic != self.target.topic",message="pipeline.outputTopic must differ from target.topic: the observer would take the replayed records for the pipeline's output",fieldPath=".pipeline.outputTopic"
// +kubebuilder:validation:XValidation:rule="!has(self.deadLetterQueue) || !has(self.pipeline) || !has(self.pipeline.outputTopic) || self.pipeline.outputTopic != self.deadLetterQueue.topic",message="deadLetterQueue.topic must differ from pipeline.outputTopic: the observer would count each record both as delivered and as a dead letter",fieldPath=".deadLetterQueue.topic"
// +kubebuilder:validation:XValidation:rule="self.scenario.type in ['Stages', 'Capacity'] || has(self.duration)",message="duration is required unless the scenario is Stages or Capacity"
// +kubebuilder:validation:XValidation:rule="self.scenario.type == 'Capacity' ? has(self.capacity) : !has(self.capacity)",message="capacity must be set for scenario Capacity and only for it"
// +kubebuilder:validation:XValidation:rule="self.scenario.type != 'Capacity' || (!has(self.targetRate) && !has(self.duration))",message="targetRate and duration must not be set for a Capacity scenario: capacity gives the rates and the probes' length"
// +kubebuilder:validation:XValidation:rule="!has(self.capacity) || self.capacity.startRate >= self.workers",message="capacity.startRate must be at least one record per second per worker",fieldPath=".capacity.startRate"
// +kubebuilder:validation:XValidation:rule="!has(self.thresholds) || !has(self.thresholds.minCapacity) || self.scenario.type == 'Capacity'",message="thresholds.minCapacity needs scenario Capacity"
// +kubebuilder:validation:XValidation:rule="!has(self.thresholds) || !has(self.thresholds.minCapacity) || !has(self.capacity) || self.thresholds.minCapacity <= self.capacity.maxRate",message="thresholds.minCapacity must be at most capacity.maxRate: the search never probes above it",fieldPath=".thresholds.minCapacity"
// +kubebuilder:validation:XValidation:rule="self.scenario.type != 'Capacity' || (has(self.pipeline) && has(self.pipeline.consumerGroup))",message="scenario Capacity needs pipeline.consumerGroup: each probe is judged by the growth of the pipeline's consumer lag"
// +kubebuilder:validation:XValidation:rule="self.scenario.type != 'Capacity' || !has(self.earlyStop)",message="earlyStop does not apply to scenario Capacity: its probes break the thresholds by design, and each probe is judged on its own"
// +kubebuilder:validation:XValidation:rule="!has(self.thresholds) || !has(self.thresholds.maxDLQRecords) || has(self.deadLetterQueue)",message="thresholds.maxDLQRecords needs deadLetterQueue"
// +kubebuilder:validation:XValidation:rule="!has(self.thresholds) || !has(self.thresholds.maxEndToEndP99Latency) || (has(self.pipeline) && has(self.pipeline.outputTopic))",message="thresholds.maxEndToEndP99Latency needs pipeline.outputTopic"
// +kubebuilder:validation:XValidation:rule="!has(self.thresholds) || !has(self.thresholds.maxConsumerLag) || (has(self.pipeline) && has(self.pipeline.consumerGroup))",message="thresholds.maxConsumerLag needs pipeline.consumerGroup"
// +kubebuilder:validation:XValidation:rule="!has(self.targetRate) || self.targetRate >= self.workers",message="targetRate must be at least one record per second per worker"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.stop) || !oldSelf.stop || (has(self.stop) && self.stop)",message="stop cannot be undone",fieldPath=".stop"
// +kubebuilder:validation:XValidation:rule="has(self.earlyStop) == has(oldSelf.earlyStop)",message="earlyStop is immutable: create a new LoadTest to run again"
// +kubebuilder:validation:XValidation:rule="[has(self.targetRate), has(self.duration), has(self.deadLetterQueue), has(self.pipeline), has(self.thresholds), has(self.workerTemplate)] == [has(oldSelf.targetRate), has(oldSelf.duration), has(oldSelf.deadLetterQueue), has(oldSelf.pipeline), has(oldSelf.thresholds), has(oldSelf.workerTemplate)]",message="spec is immutable except stop: create a new LoadTest to run again"
type LoadTestSpec struct {
	// Note on the rule below: stage durations are compared as durations, not strings, because a
	// Go client sends back "1m0s" for a stored "1m". Keep it in step with Scenario and Stage.

	// scenario is how the load evolves over time; Constant when unset.
	// +optional
	// +kubebuilder:default={type: Constant}
	// +kubebuilder:validation:XValidation:rule="self.type == oldSelf.type && has(self.startRate) == has(oldSelf.startRate) && (!has(self.startRate) || self.startRate == oldSelf.startRate) && has(self.speed) == has(oldSelf.speed) && (!has(self.speed) || self.speed == oldSelf.speed) && has(self.stages) == has(oldSelf.stages) && (!has(self.stages) || (self.stages.map(s, s.targetRate) == oldSelf.stages.map(s, s.targetRate) && self.stages.map(s, duration(s.duration)) == oldSelf.stages.map(s, duration(s.duration))))",message="scenario is immutable: create a new LoadTest to run again"
	Scenario Scenario `json:"scenario,omitempty"`

	// targetRate is the rate in records per second, all workers together (the end rate of a Ramp; for Replay an optional cap).
	// Stages scenarios take their rates from the stages and must not set it.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="targetRate is immutable: create a new LoadTest to run again"
	TargetRate *int64 `json:"targetRate,omitempty"`

	// duration is how long the workers send, between 1s and 24h. Stages scenarios take their length from the stages.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+)$') && duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="duration must be between 1s and 24h, written like 90s, 10m or 1h30m"
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration(oldSelf)",message="duration is immutable: create a new LoadTest to run again"
	Duration *metav1.Duration `json:"duration,omitempty"`

	// capacity bounds the search of a Capacity scenario; required for it and only for it.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="capacity is immutable: create a new LoadTest to run again"
	Capacity *CapacitySearch `json:"capacity,omitempty"`

	// workers is the number of replay-worker pods; the rate and the samples are split between them.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=256
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="workers is immutable: create a new LoadTest to run again"
	Workers int32 `json:"workers,omitempty"`

	// sampleSet is the recorded records to replay.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="sampleSet is immutable: create a new LoadTest to run again"
	SampleSet SampleSet `json:"sampleSet"`

	// kafka is how the pods reach the cluster under test.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="kafka is immutable: create a new LoadTest to run again"
	Kafka Kafka `json:"kafka"`

	// target is where and how the records are produced.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="target is immutable: create a new LoadTest to run again"
	Target Target `json:"target"`

	// deadLetterQueue is the pipeline's dead-letter topic, watched during the run.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="deadLetterQueue is immutable: create a new LoadTest to run again"
	DeadLetterQueue *DeadLetterQueue `json:"deadLetterQueue,omitempty"`

	// pipeline describes the pipeline under test: its output topic and consumer group.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="pipeline is immutable: create a new LoadTest to run again"
	Pipeline *Pipeline `json:"pipeline,omitempty"`

	// Note on the rule below: latencies are compared as durations, not strings, because a Go
	// client sends back "2m0s" for a stored "2m". Keep it in step with the fields of Thresholds.

	// thresholds decide the verdict.
	// When left out, admission writes the defaults of minAchievedRateRatio and maxErrorRatio.
	// +optional
	// +kubebuilder:default={}
	// +kubebuilder:validation:XValidation:rule="has(self.minAchievedRateRatio) == has(oldSelf.minAchievedRateRatio) && (!has(self.minAchievedRateRatio) || self.minAchievedRateRatio == oldSelf.minAchievedRateRatio) && has(self.maxErrorRatio) == has(oldSelf.maxErrorRatio) && (!has(self.maxErrorRatio) || self.maxErrorRatio == oldSelf.maxErrorRatio) && has(self.maxDLQRecords) == has(oldSelf.maxDLQRecords) && (!has(self.maxDLQRecords) || self.maxDLQRecords == oldSelf.maxDLQRecords) && has(self.maxConsumerLag) == has(oldSelf.maxConsumerLag) && (!has(self.maxConsumerLag) || self.maxConsumerLag == oldSelf.maxConsumerLag) && has(self.maxP99Latency) == has(oldSelf.maxP99Latency) && (!has(self.maxP99Latency) || duration(self.maxP99Latency) == duration(oldSelf.maxP99Latency)) && has(self.maxEndToEndP99Latency) == has(oldSelf.maxEndToEndP99Latency) && (!has(self.maxEndToEndP99Latency) || duration(self.maxEndToEndP99Latency) == duration(oldSelf.maxEndToEndP99Latency)) && has(self.minCapacity) == has(oldSelf.minCapacity) && (!has(self.minCapacity) || self.minCapacity == oldSelf.minCapacity)",message="thresholds are immutable: create a new LoadTest to run again"
	Thresholds *Thresholds `json:"thresholds,omitempty"`

	// workerTemplate customises the pods the operator creates.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="workerTemplate is immutable: create a new LoadTest to run again"
	WorkerTemplate *WorkerTemplate `json:"workerTemplate,omitempty"`

	// Note on the rule below: timeouts are compared as durations, not strings, because a Go
	// client sends back "5m0s" for the default "5m". Keep it in step with the fields of Timeouts.

	// timeouts bound the phases around the run.
	// +optional
	// +kubebuilder:default={}
	// +kubebuilder:validation:XValidation:rule="has(self.podsReady) == has(oldSelf.podsReady) && (!has(self.podsReady) || duration(self.podsReady) == duration(oldSelf.podsReady)) && has(self.start) == has(oldSelf.start) && (!has(self.start) || duration(self.start) == duration(oldSelf.start)) && has(self.drain) == has(oldSelf.drain) && (!has(self.drain) || duration(self.drain) == duration(oldSelf.drain))",message="timeouts are immutable: create a new LoadTest to run again"
	Timeouts Timeouts `json:"timeouts,omitempty"`

	// cleanup says what happens to the pods once the test finished.
	// +optional
	// +kubebuilder:default={}
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="cleanup is immutable: create a new LoadTest to run again"
	Cleanup Cleanup `json:"cleanup,omitempty"`

	// earlyStop, when set, ends the run Failed within seconds of a threshold breaking beyond repair: dead letters over maxDLQRecords, failed records over maxErrorRatio of the whole run, end-to-end latency over maxEndToEndP99Latency for over 1% of the run, or the lag above maxConsumerLag and still growing for a window.
	// An early stop never makes a run pass.
	// +optional
	// +kubebuilder:validation:XValidation:rule="has(self.window) == has(oldSelf.window) && (!has(self.window) || duration(self.window) == duration(oldSelf.window))",message="earlyStop is immutable: create a new LoadTest to run again"
	EarlyStop *EarlyStop `json:"earlyStop,omitempty"`

	// Note: the rule "stop cannot be undone" is on LoadTestSpec, not here, because a Go client
	// omits stop=false, and a rule on an absent field is not evaluated.

	// stop asks a running test to end early: pods finish cleanly, report partial results, and the LoadTest ends Aborted.
	// It is the only field that may change, and only to true.
	// +optional
	Stop bool `json:"stop,omitempty"`
}

// ThresholdCheck is one threshold compared with what was measured.
type ThresholdCheck struct {
	// name is the threshold's field name in spec.thresholds.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`

	// measured is the value seen in the run, or "no data".
	// +required
	// +kubebuilder:validation:MaxLength=64
	Measured string `json:"measured"`

	// limit is the threshold's value.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Limit string `json:"limit"`

	// passed tells whether the measured value met the limit.
	// +required
	Passed bool `json:"passed"`
}

// ResultsSummary is a short summary of the results; the full document is in the results ConfigMap.
type ResultsSummary struct {
	// scheduled is the number of records the scenario intended to send.
	// +optional
	Scheduled int64 `json:"scheduled,omitempty"`

	// sent is the number of records handed to Kafka.
	// +optional
	Sent int64 `json:"sent,omitempty"`

	// acknowledged is the number of records Kafka acknowledged.
	// +optional
	Acknowledged int64 `json:"acknowledged,omitempty"`

	// errors is the number of records that failed.
	// +optional
	Errors int64 `json:"errors,omitempty"`

	// achievedRate is the acknowledged records per second over the run window.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	AchievedRate string `json:"achievedRate,omitempty"`

	// achievedRateRatio is acknowledged / scheduled.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	AchievedRateRatio string `json:"achievedRateRatio,omitempty"`

	// p50Latency is the median acknowledgement latency from the intended send time.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	P50Latency string `json:"p50Latency,omitempty"`

	// p99Latency is the 99th percentile acknowledgement latency from the intended send time.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	P99Latency string `json:"p99Latency,omitempty"`

	// maxLatency is the largest acknowledgement latency.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	MaxLatency string `json:"maxLatency,omitempty"`

	// dlqRecords is the number of this run's records found in the dead-letter queue.
	// +optional
	DLQRecords *int64 `json:"dlqRecords,omitempty"`

	// maxConsumerLag is the largest lag of the pipeline's consumer group seen during the run.
	// +optional
	MaxConsumerLag *int64 `json:"maxConsumerLag,omitempty"`

	// endToEndP99Latency is the 99th percentile from intended send time to arrival on the output topic.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	EndToEndP99Latency string `json:"endToEndP99Latency,omitempty"`
}

// LoadTestStatus is the observed state of a LoadTest.
type LoadTestStatus struct {
	// observedGeneration is the generation this status describes; -1 until the operator has seen the LoadTest.
	// +optional
	// +kubebuilder:default=-1
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is Pending, Starting, Running, Draining, then Passed, Failed, Error or Aborted.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// verdict is Pass, Fail or Inconclusive once the test finished.
	// +optional
	Verdict Verdict `json:"verdict,omitempty"`

	// message says why the test is in its phase, in words.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Message string `json:"message,omitempty"`

	// runID identifies this run in the records' headers: the LoadTest's UID.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RunID string `json:"runID,omitempty"`

	// startTime is the instant every worker starts sending, agreed by the operator, to the microsecond.
	// The pods receive exactly this instant.
	// +optional
	StartTime *PreciseTime `json:"startTime,omitempty"`

	// completionTime is when the test reached its final phase.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// readyPods is how many of the test's pods are Ready, as "ready/total".
	// +optional
	// +kubebuilder:validation:MaxLength=16
	ReadyPods string `json:"readyPods,omitempty"`

	// resultsConfigMap is the name of the ConfigMap holding the full results document.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ResultsConfigMap string `json:"resultsConfigMap,omitempty"`

	// results is a summary of the results.
	// +optional
	Results *ResultsSummary `json:"results,omitempty"`

	// capacity is the rate, in records per second, that a Capacity search found the pipeline sustains (cut, not rounded).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000000
	Capacity *int64 `json:"capacity,omitempty"`

	// limitingFactor is what limited a Capacity search: Pipeline, Broker, Generator (add workers) or MaxRate.
	// +optional
	LimitingFactor LimitingFactor `json:"limitingFactor,omitempty"`

	// probe is the probe of a Capacity search in progress; the finished ones are in the results ConfigMap (probes.json).
	// +optional
	Probe *CapacityProbe `json:"probe,omitempty"`

	// thresholds are the thresholds compared with the measured values.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Thresholds []ThresholdCheck `json:"thresholds,omitempty"`

	// conditions are Reconciling, Ready and Stalled (read by kstatus, Flux and Argo CD), Started and Stopping.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// LoadTest replays recorded Kafka records into a pipeline at a chosen rate and judges how it copes.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=lt,categories=streamreplay
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Verdict",type=string,JSONPath=`.status.verdict`
// +kubebuilder:printcolumn:name="Target",type=integer,JSONPath=`.spec.targetRate`,description="Target rate, records/s"
// +kubebuilder:printcolumn:name="Capacity",type=integer,JSONPath=`.status.capacity`,description="Capacity found by a Capacity search, records/s"
// +kubebuilder:printcolumn:name="Achieved",type=string,JSONPath=`.status.results.achievedRate`,description="Achieved rate, records/s"
// +kubebuilder:printcolumn:name="P99",type=string,JSONPath=`.status.results.p99Latency`
// +kubebuilder:printcolumn:name="DLQ",type=integer,JSONPath=`.status.results.dlqRecords`
// +kubebuilder:printcolumn:name="Pods",type=string,JSONPath=`.status.readyPods`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 50",message="metadata.name must be at most 50 characters so that the names of its pods (<name>-worker-<index>) stay within 63",fieldPath=".metadata",reason="FieldValueInvalid"
type LoadTest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the test to run.
	// +required
	Spec LoadTestSpec `json:"spec"`

	// status is what the operator observed.
	// observedGeneration starts at -1, so that kstatus (Flux) reads a LoadTest the operator has not seen yet as in progress, not as current.
	// +optional
	// +kubebuilder:default={}
	Status LoadTestStatus `json:"status,omitempty"`
}

// LoadTestList is a list of LoadTests.
// +kubebuilder:object:root=true
type LoadTestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LoadTest `json:"items"`
}
