// Package plan is what the operator tells each pod it creates: its role, its share of the
// load, where the samples are and how to reach Kafka. It travels as JSON in one environment
// variable; secrets never do, only the paths of the files they are mounted as.
package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/results"
)

const (
	// EnvPlan is the environment variable holding the JSON plan.
	EnvPlan = "STREAMREPLAY_PLAN"
	// EnvPodName is the pod's name, from the downward API.
	EnvPodName = "POD_NAME"
	// EnvPodNamespace is the pod's namespace, from the downward API.
	EnvPodNamespace = "POD_NAMESPACE"
	// EnvPodIP is the pod's IP address, from the downward API.
	EnvPodIP = "POD_IP"

	// ControlPort serves the operator's authenticated /start and /stop on every pod.
	ControlPort = 9400
	// ControlPortName names the control port in the pod spec.
	ControlPortName = "control"
	// MetricsPort serves /metrics, /readyz and /healthz (GET only) on every pod.
	MetricsPort = 9401
	// MetricsPortName names the metrics port in the pod spec.
	MetricsPortName = "metrics"

	// SamplesDir is where the sample volume is mounted.
	SamplesDir = "/var/run/streamreplay/samples"
	// SecretsDir is where the Kafka credentials are mounted, one folder per Secret.
	SecretsDir = "/var/run/streamreplay/kafka" //nolint:gosec // a mount folder, not a credential
	// SampleURLDir is where the Secret of the sample URL is mounted.
	SampleURLDir = "/var/run/streamreplay/sample-url"
	// SampleHeadersDir is where the Secret of the sample URL's headers is mounted.
	SampleHeadersDir = "/var/run/streamreplay/sample-headers"
)

// Plan is one pod's instructions. Its enum fields (scenario type, sample format,
// partitioning, acks, compression, SASL mechanism) are the API's types; a plan written by
// hand can still hold an unknown value, which the pods refuse.
type Plan struct {
	Role     results.Role `json:"role"`
	RunID    string       `json:"runID"`
	LoadTest string       `json:"loadTest"`
	// Index is the worker's index, 0-based; Workers is how many there are.
	Index   int32 `json:"index"`
	Workers int32 `json:"workers"`

	Scenario Scenario        `json:"scenario"`
	Duration metav1.Duration `json:"duration"`
	Drain    metav1.Duration `json:"drain"`

	Samples  Samples   `json:"samples"`
	Kafka    Kafka     `json:"kafka"`
	Target   Target    `json:"target"`
	DLQ      *DLQ      `json:"dlq,omitempty"`
	Pipeline *Pipeline `json:"pipeline,omitempty"`
	// EarlyStop is what the observer watches for an early stop; nil when the run does not stop early.
	EarlyStop *EarlyStop `json:"earlyStop,omitempty"`
}

// EarlyStop is the observer's part of an early stop: the limits it checks as it samples
// (the controller checks the others from the pods' counts).
type EarlyStop struct {
	// Window is how long the lag must stay above MaxConsumerLag and grow.
	Window         metav1.Duration  `json:"window"`
	MaxConsumerLag *int64           `json:"maxConsumerLag,omitempty"`
	MaxEndToEndP99 *metav1.Duration `json:"maxEndToEndP99,omitempty"`
}

// Scenario is the schedule with the rates already divided: they are this pod's share.
type Scenario struct {
	Type       streamreplayv1alpha1.ScenarioType `json:"type"`
	StartRate  int64                             `json:"startRate,omitempty"`
	TargetRate int64                             `json:"targetRate,omitempty"`
	Stages     []Stage                           `json:"stages,omitempty"`
	Speed      string                            `json:"speed,omitempty"`
}

// Stage is a linear ramp to TargetRate over Duration.
type Stage struct {
	Duration   metav1.Duration `json:"duration"`
	TargetRate int64           `json:"targetRate"`
}

// Samples says where the sample set is: a mounted file or folder, or a URL, given as is
// or in a mounted file (URLFile), with headers from a mounted folder (HeadersDir: one file
// per header, named after it).
type Samples struct {
	// Name is how the LoadTest names the source, for messages, such as
	// `ConfigMap "crm-cdc-samples", key "samples.jsonl.gz"`: Path is a mount point in the pod.
	Name       string                            `json:"name,omitempty"`
	Path       string                            `json:"path,omitempty"`
	URL        string                            `json:"url,omitempty"`
	URLFile    string                            `json:"urlFile,omitempty"`
	HeadersDir string                            `json:"headersDir,omitempty"`
	Format     streamreplayv1alpha1.SampleFormat `json:"format"`
	Loop       bool                              `json:"loop"`
}

// Kafka is how to reach the brokers. Credentials are file paths.
type Kafka struct {
	BootstrapServers []string `json:"bootstrapServers"`
	ClientID         string   `json:"clientID,omitempty"`
	TLS              *TLS     `json:"tls,omitempty"`
	SASL             *SASL    `json:"sasl,omitempty"`
}

// TLS names the mounted CA, client certificate and key files.
type TLS struct {
	CAFile     string `json:"caFile,omitempty"`
	CertFile   string `json:"certFile,omitempty"`
	KeyFile    string `json:"keyFile,omitempty"`
	ServerName string `json:"serverName,omitempty"`
}

// SASL names the mechanism and the mounted username and password files.
type SASL struct {
	Mechanism streamreplayv1alpha1.SASLMechanism `json:"mechanism"`
	// Username is the user name when the Secret does not hold it (UsernameFile is then empty).
	Username     string `json:"username,omitempty"`
	UsernameFile string `json:"usernameFile,omitempty"`
	PasswordFile string `json:"passwordFile"`
	// AWSRegion is the MSK cluster's region for AWS_MSK_IAM (no files: the pod's AWS credentials).
	AWSRegion string `json:"awsRegion,omitempty"`
}

// Target is where and how the worker produces.
type Target struct {
	Topic        string                            `json:"topic"`
	Partitioning streamreplayv1alpha1.Partitioning `json:"partitioning"`
	Acks         streamreplayv1alpha1.Acks         `json:"acks"`
	Compression  streamreplayv1alpha1.Compression  `json:"compression"`
	// Producer holds the user's producer settings; nil or zero fields keep the worker's defaults.
	Producer *Producer `json:"producer,omitempty"`
}

// DLQ is the dead-letter topic the observer reads.
type DLQ struct {
	Topic           string `json:"topic"`
	CountAllRecords bool   `json:"countAllRecords,omitempty"`
	ClassifyHeader  string `json:"classifyHeader,omitempty"`
}

// Pipeline is what the observer watches of the pipeline under test.
type Pipeline struct {
	InputTopic    string `json:"inputTopic"`
	OutputTopic   string `json:"outputTopic,omitempty"`
	ConsumerGroup string `json:"consumerGroup,omitempty"`
}

// Encode gives the plan's JSON for the environment variable.
func (p *Plan) Encode() (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encoding plan: %w", err)
	}
	return string(b), nil
}

// FromEnv reads the plan from EnvPlan.
func FromEnv() (*Plan, error) {
	raw, ok := os.LookupEnv(EnvPlan)
	if !ok || raw == "" {
		return nil, errors.New("environment variable " + EnvPlan + " is not set: the pod was not created by the streamreplay operator")
	}
	return Decode(raw)
}

// Decode parses a plan and checks the fields every role needs.
func Decode(raw string) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, fmt.Errorf("%s is not a valid plan: %w", EnvPlan, err)
	}
	switch {
	case p.Role != results.RoleWorker && p.Role != results.RoleObserver:
		return nil, fmt.Errorf("%s: role %q is neither %q nor %q", EnvPlan, p.Role, results.RoleWorker, results.RoleObserver)
	case p.RunID == "":
		return nil, fmt.Errorf("%s: runID is empty", EnvPlan)
	case len(p.Kafka.BootstrapServers) == 0:
		return nil, fmt.Errorf("%s: kafka.bootstrapServers is empty", EnvPlan)
	case p.Workers < 1 || p.Index < 0 || p.Index >= p.Workers:
		return nil, fmt.Errorf("%s: index %d is out of range for %d workers", EnvPlan, p.Index, p.Workers)
	}
	return &p, nil
}

// Share is worker index's part of a rate split between workers: the remainder goes to
// the first workers, so the shares add up to the total exactly.
func Share(total int64, workers, index int32) int64 {
	if workers <= 0 {
		return 0
	}
	share := total / int64(workers)
	if int64(index) < total%int64(workers) {
		share++
	}
	return share
}
