package v1alpha1_test

// These tests install the generated CRD into a real API server (envtest) and check that
// the OpenAPI and CEL rules of the LoadTest API refuse bad input with a clear message,
// accept good input with the documented defaults, and keep the spec immutable except stop.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

const testNamespace = "loadtest-validation"

var (
	k8sClient client.Client
	scheme    = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "FAIL: KUBEBUILDER_ASSETS is not set, so the envtest API server cannot start.\n"+
			"Run `make test`, which builds the envtest binaries and sets it, or set it yourself:\n"+
			"  export KUBEBUILDER_ASSETS=$(bash hack/envtest-binaries.sh)")
		return 1
	}
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: client-go scheme:", err)
		return 1
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: v1alpha1 scheme:", err)
		return 1
	}

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		// The default (20s) is short on a busy 2-core machine.
		env.ControlPlaneStartTimeout = 2 * time.Minute
	}
	cfg, err := env.Start()
	if err != nil {
		// Start may fail after the control plane is up (for example a CRD the API server
		// refuses): stop what was started so no kube-apiserver or etcd is left behind.
		_ = env.Stop()
		fmt.Fprintln(os.Stderr, "FAIL: starting envtest (a CRD the API server refuses? run `make manifests`):", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: creating the client:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: creating the test namespace:", err)
		return 1
	}
	return m.Run()
}

// topicRules ends the message of every topic rule.
const topicRules = "must be a Kafka topic name: up to 249 letters, digits, '.', '_' and '-', and not '.' or '..'"

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func duration(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// base is a small valid Constant LoadTest that leaves every defaulted field unset.
func base(name string) *v1alpha1.LoadTest {
	return &v1alpha1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec: v1alpha1.LoadTestSpec{
			TargetRate: ptr.To[int64](100),
			Duration:   duration(time.Minute),
			SampleSet: v1alpha1.SampleSet{
				ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "samples", Key: "samples.jsonl.gz"},
			},
			Kafka:           v1alpha1.Kafka{BootstrapServers: []string{"kafka-0.kafka:9092"}},
			Target:          v1alpha1.Target{Topic: "dbserver1.dbo.customers"},
			DeadLetterQueue: &v1alpha1.DeadLetterQueue{Topic: "crm-pipeline.dlq"},
			Thresholds: &v1alpha1.Thresholds{
				MinAchievedRateRatio: ptr.To("0.95"),
				MaxDLQRecords:        ptr.To[int64](0),
				MaxP99Latency:        duration(250 * time.Millisecond),
			},
		},
	}
}

// toUnstructured turns a typed LoadTest into the map a client sends, so that a test can
// also write what the typed client cannot (an explicit 0 or false that omitempty drops).
func toUnstructured(t *testing.T, lt *v1alpha1.LoadTest) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(lt)
	if err != nil {
		t.Fatalf("converting to unstructured: %v", err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(v1alpha1.GroupVersion.String())
	u.SetKind("LoadTest")
	return u
}

// set writes value at the dotted path of an unstructured object.
func set(value any, path string) func(map[string]any) {
	return func(m map[string]any) {
		if err := unstructured.SetNestedField(m, value, strings.Split(path, ".")...); err != nil {
			panic(fmt.Sprintf("setting %s: %v", path, err))
		}
	}
}

// expectInvalid checks that err is an Invalid error whose message contains every want.
func expectInvalid(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the API server accepted the object; want it refused with a message containing %q", wants)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error, got %v (reason %q)", err, apierrors.ReasonForError(err))
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error message does not contain %q:\n%v", want, err)
		}
	}
	// A CEL rule that fails at run time (for example double() of a non-number) reports
	// "<cel error> evaluating rule: <message>": the rule should guard against that input.
	if strings.Contains(err.Error(), "evaluating rule") {
		t.Errorf("a CEL rule failed at run time instead of answering:\n%v", err)
	}
	// A rule at the root without fieldPath reports the path "<nil>". (The API server's own
	// note that it skipped the CEL rules of an object with schema errors has it too.)
	if msg := strings.ReplaceAll(err.Error(), "<nil>: Invalid value: null: some validation rules were not checked", ""); strings.Contains(msg, "<nil>") {
		t.Errorf("the error names no field:\n%v", err)
	}
	t.Logf("refused as expected: %v", err)
}

func TestInvalidLoadTestsAreRefused(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*v1alpha1.LoadTest)
		// raw edits the object as sent, for values the typed client would omit.
		raw func(map[string]any)
		// wants are substrings of the error message: the field's path and the rule.
		wants []string
	}{
		// Rates and workers.
		{
			name:   "targetRate 0",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.TargetRate = ptr.To[int64](0) },
			wants:  []string{"spec.targetRate", "should be greater than or equal to 1"},
		},
		{
			name:   "targetRate above the maximum",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.TargetRate = ptr.To[int64](10_000_001) },
			wants:  []string{"spec.targetRate", "should be less than or equal to 10000000"},
		},
		{
			name:  "workers 0",
			raw:   set(int64(0), "spec.workers"),
			wants: []string{"spec.workers", "should be greater than or equal to 1"},
		},
		{
			name: "workers 257",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.TargetRate = ptr.To[int64](1000)
				lt.Spec.Workers = 257
			},
			wants: []string{"spec.workers", "should be less than or equal to 256"},
		},
		{
			name: "targetRate lower than workers",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.TargetRate = ptr.To[int64](3)
				lt.Spec.Workers = 4
			},
			wants: []string{"targetRate must be at least one record per second per worker"},
		},
		{
			name:   "targetRate missing for Constant",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.TargetRate = nil },
			wants:  []string{"targetRate is required for Constant and Ramp scenarios"},
		},

		// Duration.
		{
			name:   "duration below 1s",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Duration = duration(500 * time.Millisecond) },
			wants:  []string{"spec.duration", "duration must be between 1s and 24h"},
		},
		{
			name:   "duration above 24h",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Duration = duration(25 * time.Hour) },
			wants:  []string{"spec.duration", "duration must be between 1s and 24h"},
		},
		{
			name:   "duration missing for Constant",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Duration = nil },
			wants:  []string{"duration is required unless the scenario is Stages"},
		},
		{
			name:  "duration not a duration",
			raw:   set("ten minutes", "spec.duration"),
			wants: []string{"spec.duration", "duration must be between 1s and 24h, written like"},
		},

		// Scenario.
		{
			name:   "unknown scenario type",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Scenario.Type = "Spike" },
			wants:  []string{"spec.scenario.type", `Unsupported value: "Spike"`},
		},
		{
			name: "stages with type Constant",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario.Stages = []v1alpha1.Stage{{Duration: metav1.Duration{Duration: time.Minute}, TargetRate: 100}}
			},
			wants: []string{"spec.scenario", "stages must be set for type Stages and only for it"},
		},
		{
			name: "type Stages without stages",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario.Type = v1alpha1.ScenarioStages
				lt.Spec.Duration = nil
			},
			wants: []string{"spec.scenario", "stages must be set for type Stages and only for it"},
		},
		{
			name: "duration set with Stages",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario.Type = v1alpha1.ScenarioStages
				lt.Spec.Scenario.Stages = []v1alpha1.Stage{{Duration: metav1.Duration{Duration: time.Minute}, TargetRate: 100}}
			},
			wants: []string{"duration must not be set for a Stages scenario"},
		},
		{
			name: "stage duration of 0s",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario.Type = v1alpha1.ScenarioStages
				lt.Spec.Duration = nil
				lt.Spec.Scenario.Stages = []v1alpha1.Stage{{Duration: metav1.Duration{}, TargetRate: 100}}
			},
			wants: []string{"spec.scenario.stages[0].duration", "stage duration must be between 1s and 24h"},
		},
		{
			name: "stage targetRate negative",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario.Type = v1alpha1.ScenarioStages
				lt.Spec.Duration = nil
				lt.Spec.Scenario.Stages = []v1alpha1.Stage{{Duration: metav1.Duration{Duration: time.Minute}, TargetRate: -1}}
			},
			wants: []string{"spec.scenario.stages[0].targetRate", "should be greater than or equal to 0"},
		},
		{
			name:   "speed with Constant",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Scenario.Speed = ptr.To("2.0") },
			wants:  []string{"spec.scenario", "speed is only allowed with type Replay"},
		},
		{
			name: `speed "0"`,
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario.Type = v1alpha1.ScenarioReplay
				lt.Spec.Scenario.Speed = ptr.To("0")
			},
			wants: []string{"spec.scenario.speed", "speed must be between 0.001 and 1000"},
		},
		{
			name: `speed "abc"`,
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario.Type = v1alpha1.ScenarioReplay
				lt.Spec.Scenario.Speed = ptr.To("abc")
			},
			wants: []string{"spec.scenario.speed", "should match"},
		},
		{
			name: "Stages whose only stage has rate 0",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario = v1alpha1.Scenario{Type: v1alpha1.ScenarioStages, Stages: []v1alpha1.Stage{{Duration: metav1.Duration{Duration: time.Minute}, TargetRate: 0}}}
				lt.Spec.Duration, lt.Spec.TargetRate = nil, nil
			},
			wants: []string{"spec.scenario.stages", "stages need at least one stage with a targetRate above 0"},
		},
		{
			name: "Stages whose stages all have rate 0",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario = v1alpha1.Scenario{Type: v1alpha1.ScenarioStages, Stages: []v1alpha1.Stage{
					{Duration: metav1.Duration{Duration: time.Minute}, TargetRate: 0},
					{Duration: metav1.Duration{Duration: time.Minute}, TargetRate: 0},
				}}
				lt.Spec.Duration, lt.Spec.TargetRate = nil, nil
			},
			wants: []string{"spec.scenario.stages", "stages need at least one stage with a targetRate above 0"},
		},
		{
			name: "Stages together with targetRate",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario = v1alpha1.Scenario{Type: v1alpha1.ScenarioStages, Stages: []v1alpha1.Stage{{Duration: metav1.Duration{Duration: time.Minute}, TargetRate: 100}}}
				lt.Spec.Duration = nil
			},
			wants: []string{"spec.targetRate", "targetRate must not be set for a Stages scenario"},
		},
		{
			name:   "startRate with Constant",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Scenario.StartRate = ptr.To[int64](10) },
			wants:  []string{"spec.scenario", "startRate is only allowed with type Ramp"},
		},

		// Sample set.
		{
			name:   "no sample source",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.SampleSet.ConfigMapRef = nil },
			wants:  []string{"spec.sampleSet", "exactly one of configMapRef, persistentVolumeClaim and url must be set"},
		},
		{
			name:   "two sample sources",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.SampleSet.URL = "https://samples.example.com/crm.jsonl.gz" },
			wants:  []string{"spec.sampleSet", "exactly one of configMapRef, persistentVolumeClaim and url must be set"},
		},
		{
			name:   "configMapRef name not an object name",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.SampleSet.ConfigMapRef.Name = "Bad_Name!" },
			wants:  []string{"spec.sampleSet.configMapRef.name", "name must be a Kubernetes object name: lowercase letters, digits, '-' and '.'"},
		},
		{
			name: "claimName not an object name",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.SampleSet.ConfigMapRef = nil
				lt.Spec.SampleSet.PersistentVolumeClaim = &v1alpha1.SampleVolume{ClaimName: "-samples"}
			},
			wants: []string{"spec.sampleSet.persistentVolumeClaim.claimName", "claimName must be a Kubernetes object name"},
		},
		{
			name: "serviceAccountName not an object name",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.WorkerTemplate = &v1alpha1.WorkerTemplate{ServiceAccountName: "Load Tester"}
			},
			wants: []string{"spec.workerTemplate.serviceAccountName", "serviceAccountName must be a Kubernetes object name"},
		},
		{
			name: "url with ftp scheme",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.SampleSet.ConfigMapRef = nil
				lt.Spec.SampleSet.URL = "ftp://samples.example.com/crm.jsonl.gz"
			},
			wants: []string{"spec.sampleSet.url", "url must be an http or https URL"},
		},
		{
			name: "url that is not a URL",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.SampleSet.ConfigMapRef = nil
				lt.Spec.SampleSet.URL = "samples dot example"
			},
			wants: []string{"spec.sampleSet.url", "url must be an http or https URL"},
		},
		{
			name:   "unknown format",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.SampleSet.Format = "CSV" },
			wants:  []string{"spec.sampleSet.format", `Unsupported value: "CSV"`},
		},
		{
			name: "pvc path with ..",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.SampleSet.ConfigMapRef = nil
				lt.Spec.SampleSet.PersistentVolumeClaim = &v1alpha1.SampleVolume{ClaimName: "samples", Path: "sets/../../etc"}
			},
			wants: []string{"spec.sampleSet.persistentVolumeClaim.path", "path must be relative and must not contain '..'"},
		},
		{
			name: "pvc path absolute",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.SampleSet.ConfigMapRef = nil
				lt.Spec.SampleSet.PersistentVolumeClaim = &v1alpha1.SampleVolume{ClaimName: "samples", Path: "/etc/passwd"}
			},
			wants: []string{"spec.sampleSet.persistentVolumeClaim.path", "path must be relative and must not contain '..'"},
		},

		// Kafka.
		{
			name:   "empty bootstrapServers",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Kafka.BootstrapServers = []string{} },
			wants:  []string{"spec.kafka.bootstrapServers", "should have at least 1 items"},
		},
		{
			name: "bootstrap server port 99999",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.BootstrapServers = []string{"kafka-0.kafka:9092", "kafka-1.kafka:99999"}
			},
			wants: []string{"spec.kafka.bootstrapServers[1]", "the port of a bootstrap server must be between 1 and 65535"},
		},
		{
			name:   "bootstrap server port 0",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Kafka.BootstrapServers = []string{"kafka-0.kafka:0"} },
			wants:  []string{"spec.kafka.bootstrapServers[0]", "the port of a bootstrap server must be between 1 and 65535"},
		},
		{
			name: "sasl PLAIN without tls",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.SASL = &v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLPlain, SecretRef: v1alpha1.SecretRef{Name: "kafka-user"}}
			},
			wants: []string{"spec.kafka.sasl", "sasl mechanism PLAIN without tls sends the password in clear text", "allowPlainWithoutTLS"},
		},
		{
			name: "sasl secret name not an object name",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.SASL = &v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLScramSHA512, SecretRef: v1alpha1.SecretRef{Name: "Kafka_User"}}
			},
			wants: []string{"spec.kafka.sasl.secretRef.name", "name must be a Kubernetes object name"},
		},
		{
			name: "sasl username and usernameKey both",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.SASL = &v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLScramSHA512, SecretRef: v1alpha1.SecretRef{Name: "kafka-user"},
					Username: "kafka-user", UsernameKey: "user"}
			},
			wants: []string{"spec.kafka.sasl", "set username or usernameKey, not both"},
		},
		{
			name: "sasl passwordKey not a Secret key",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.SASL = &v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLScramSHA512, SecretRef: v1alpha1.SecretRef{Name: "kafka-user"}, PasswordKey: "pass word"}
			},
			wants: []string{"spec.kafka.sasl.passwordKey", "should match"},
		},
		{
			name: "tls clientCertKey without clientCertSecretRef",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.TLS = &v1alpha1.KafkaTLS{ClientCertKey: "user.crt"}
			},
			wants: []string{"spec.kafka.tls", "clientCertKey and clientKeyKey name keys of clientCertSecretRef: set clientCertSecretRef too"},
		},
		{
			name: "tls CA secret name not an object name",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.TLS = &v1alpha1.KafkaTLS{CASecretRef: &v1alpha1.SecretKeyRef{Name: "ca!", Key: "ca.crt"}}
			},
			wants: []string{"spec.kafka.tls.caSecretRef.name", "name must be a Kubernetes object name"},
		},
		{
			name:   "bootstrap server without port",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Kafka.BootstrapServers = []string{"kafka-0.kafka"} },
			wants:  []string{"spec.kafka.bootstrapServers[0]", "should match"},
		},
		{
			name: "sasl mechanism unknown",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.SASL = &v1alpha1.KafkaSASL{Mechanism: "GSSAPI", SecretRef: v1alpha1.SecretRef{Name: "kafka-user"}}
			},
			wants: []string{"spec.kafka.sasl.mechanism", `Unsupported value: "GSSAPI"`},
		},
		{
			name:   "clientID with a space",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Kafka.ClientID = "stream replay" },
			wants:  []string{"spec.kafka.clientID", "should match"},
		},

		// Target and dead-letter queue.
		{
			name:   "topic with a space",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Topic = "crm customers" },
			wants:  []string{"spec.target.topic", "topic " + topicRules},
		},
		{
			name:   "topic with a slash",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Topic = "crm/customers" },
			wants:  []string{"spec.target.topic", "topic " + topicRules},
		},
		{
			name:   `topic "."`,
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Topic = "." },
			wants:  []string{"spec.target.topic", "topic " + topicRules},
		},
		{
			name:   `topic ".."`,
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Topic = ".." },
			wants:  []string{"spec.target.topic", "topic " + topicRules},
		},
		{
			name:   "topic of 250 characters",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Topic = strings.Repeat("t", 250) },
			wants:  []string{"spec.target.topic", "Too long: may not be more than 249"},
		},
		{
			name:   "dead-letter topic with a slash",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.DeadLetterQueue.Topic = "crm/dlq" },
			wants:  []string{"spec.deadLetterQueue.topic", "topic " + topicRules},
		},
		{
			name:   `dead-letter topic ".."`,
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.DeadLetterQueue.Topic = ".." },
			wants:  []string{"spec.deadLetterQueue.topic", "topic " + topicRules},
		},
		{
			name:   `output topic "."`,
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Pipeline = &v1alpha1.Pipeline{OutputTopic: "."} },
			wants:  []string{"spec.pipeline.outputTopic", "outputTopic " + topicRules},
		},
		{
			name:   "dead-letter topic equal to the target topic",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.DeadLetterQueue.Topic = lt.Spec.Target.Topic },
			wants:  []string{"spec.deadLetterQueue.topic", "deadLetterQueue.topic must differ from target.topic"},
		},
		{
			name:   "output topic equal to the target topic",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Pipeline = &v1alpha1.Pipeline{OutputTopic: lt.Spec.Target.Topic} },
			wants:  []string{"spec.pipeline.outputTopic", "pipeline.outputTopic must differ from target.topic"},
		},
		{
			name: "output topic equal to the dead-letter topic",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Pipeline = &v1alpha1.Pipeline{OutputTopic: lt.Spec.DeadLetterQueue.Topic}
			},
			wants: []string{"spec.deadLetterQueue.topic", "deadLetterQueue.topic must differ from pipeline.outputTopic"},
		},
		{
			name:   "unknown partitioning",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Partitioning = "Random" },
			wants:  []string{"spec.target.partitioning", `Unsupported value: "Random"`},
		},
		{
			name:   "unknown acks",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Acks = "1" },
			wants:  []string{"spec.target.acks", `Unsupported value: "1"`},
		},
		{
			name:   "unknown compression",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Compression = "Brotli" },
			wants:  []string{"spec.target.compression", `Unsupported value: "Brotli"`},
		},
		{
			name:   "producer batchSize 0",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Producer = &v1alpha1.Producer{BatchSize: ptr.To[int32](0)} },
			wants:  []string{"spec.target.producer.batchSize", "should be greater than or equal to 1"},
		},
		{
			name: "producer batchBytes 100",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Target.Producer = &v1alpha1.Producer{BatchBytes: ptr.To[int64](100)}
			},
			wants: []string{"spec.target.producer.batchBytes", "should be greater than or equal to 1024"},
		},
		{
			name: "producer linger 2s",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Target.Producer = &v1alpha1.Producer{Linger: duration(2 * time.Second)}
			},
			wants: []string{"spec.target.producer.linger", "linger must be between 0 and 1s"},
		},
		{
			name: "producer maxAttempts 0",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Target.Producer = &v1alpha1.Producer{MaxAttempts: ptr.To[int32](0)}
			},
			wants: []string{"spec.target.producer.maxAttempts", "should be greater than or equal to 1"},
		},
		{
			name: "producer writeTimeout 10ms",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Target.Producer = &v1alpha1.Producer{WriteTimeout: duration(10 * time.Millisecond)}
			},
			wants: []string{"spec.target.producer.writeTimeout", "writeTimeout must be between 100ms and 5m"},
		},

		// Thresholds and pipeline.
		{
			name:   `minAchievedRateRatio "1.5"`,
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Thresholds.MinAchievedRateRatio = ptr.To("1.5") },
			wants:  []string{"spec.thresholds.minAchievedRateRatio", `minAchievedRateRatio must be a decimal between 0 and 1, such as "0.95"`},
		},
		{
			name:   `minAchievedRateRatio "abc"`,
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Thresholds.MinAchievedRateRatio = ptr.To("abc") },
			wants:  []string{"spec.thresholds.minAchievedRateRatio", "minAchievedRateRatio must be a decimal between 0 and 1"},
		},
		{
			name:   `maxErrorRatio "-0.1"`,
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Thresholds.MaxErrorRatio = ptr.To("-0.1") },
			wants:  []string{"spec.thresholds.maxErrorRatio", `maxErrorRatio must be a decimal between 0 and 1, such as "0.001"`},
		},
		{
			name:   `maxErrorRatio "1.01"`,
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Thresholds.MaxErrorRatio = ptr.To("1.01") },
			wants:  []string{"spec.thresholds.maxErrorRatio", "maxErrorRatio must be a decimal between 0 and 1"},
		},
		{
			name:   "maxP99Latency 0s",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Thresholds.MaxP99Latency = duration(0) },
			wants:  []string{"spec.thresholds.maxP99Latency", "maxP99Latency must be more than 0 and at most 1h"},
		},
		{
			name:   "maxDLQRecords without deadLetterQueue",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.DeadLetterQueue = nil },
			wants:  []string{"thresholds.maxDLQRecords needs deadLetterQueue"},
		},
		{
			name: "maxEndToEndP99Latency without pipeline",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Thresholds.MaxEndToEndP99Latency = duration(2 * time.Second)
			},
			wants: []string{"thresholds.maxEndToEndP99Latency needs pipeline.outputTopic"},
		},
		{
			name: "maxEndToEndP99Latency without pipeline.outputTopic",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Thresholds.MaxEndToEndP99Latency = duration(2 * time.Second)
				lt.Spec.Pipeline = &v1alpha1.Pipeline{ConsumerGroup: "crm-enricher"}
			},
			wants: []string{"thresholds.maxEndToEndP99Latency needs pipeline.outputTopic"},
		},
		{
			name: "maxConsumerLag without pipeline.consumerGroup",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Thresholds.MaxConsumerLag = ptr.To[int64](10000)
				lt.Spec.Pipeline = &v1alpha1.Pipeline{OutputTopic: "crm.customers.enriched"}
			},
			wants: []string{"thresholds.maxConsumerLag needs pipeline.consumerGroup"},
		},
		{
			name:   "pipeline with neither field",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Pipeline = &v1alpha1.Pipeline{} },
			wants:  []string{"spec.pipeline", "pipeline needs outputTopic, consumerGroup or both"},
		},

		// Metadata, cleanup, timeouts.
		{
			name:   "name longer than 50 characters",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Name = strings.Repeat("a", 51) },
			wants:  []string{"metadata: Invalid value", "metadata.name must be at most 50 characters"},
		},
		{
			name:   "ttlSecondsAfterFinished negative",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Cleanup.TTLSecondsAfterFinished = ptr.To[int32](-1) },
			wants:  []string{"spec.cleanup.ttlSecondsAfterFinished", "should be greater than or equal to 0"},
		},
		{
			name:   "unknown cleanup policy",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Cleanup.Policy = "Sometimes" },
			wants:  []string{"spec.cleanup.policy", `Unsupported value: "Sometimes"`},
		},
		{
			name:  "drain timeout not a duration",
			raw:   set("2 minutes", "spec.timeouts.drain"),
			wants: []string{"spec.timeouts.drain", "drain must be between 0s and 1h, written like"},
		},
		{
			name:   "podsReady timeout above 1h",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Timeouts.PodsReady = duration(2 * time.Hour) },
			wants:  []string{"spec.timeouts.podsReady", "podsReady must be between 5s and 1h"},
		},
	}

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			lt := base(fmt.Sprintf("invalid-%02d", i))
			if tc.mutate != nil {
				tc.mutate(lt)
			}
			u := toUnstructured(t, lt)
			if tc.raw != nil {
				tc.raw(u.Object)
			}
			err := k8sClient.Create(ctx, u)
			if err == nil {
				_ = k8sClient.Delete(ctx, u)
			}
			expectInvalid(t, err, tc.wants...)
		})
	}
	t.Logf("%d invalid LoadTests checked", len(cases))
}

// defaulted is the base spec with the defaults the API server is documented to apply.
func defaulted(spec v1alpha1.LoadTestSpec) v1alpha1.LoadTestSpec {
	spec.Scenario.Type = v1alpha1.ScenarioConstant
	spec.Workers = 1
	spec.SampleSet.Format = v1alpha1.SampleFormatAuto
	spec.SampleSet.Loop = ptr.To(true)
	spec.Target.Partitioning = v1alpha1.PartitioningKey
	spec.Target.Acks = v1alpha1.AcksAll
	spec.Target.Compression = v1alpha1.CompressionNone
	spec.Kafka.ClientID = "streamreplay"
	spec.Cleanup = v1alpha1.Cleanup{Policy: v1alpha1.CleanupOnSuccess, TTLSecondsAfterFinished: ptr.To[int32](600)}
	spec.Timeouts = v1alpha1.Timeouts{
		PodsReady: duration(5 * time.Minute),
		Start:     duration(30 * time.Second),
		Drain:     duration(30 * time.Second),
	}
	if spec.Thresholds == nil {
		spec.Thresholds = &v1alpha1.Thresholds{}
	}
	if spec.Thresholds.MinAchievedRateRatio == nil {
		spec.Thresholds.MinAchievedRateRatio = ptr.To(v1alpha1.DefaultMinAchievedRateRatio)
	}
	if spec.Thresholds.MaxErrorRatio == nil {
		spec.Thresholds.MaxErrorRatio = ptr.To(v1alpha1.DefaultMaxErrorRatio)
	}
	return spec
}

func TestValidLoadTestsAreAccepted(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*v1alpha1.LoadTest)
		// want returns the spec expected back from the server, given the spec sent.
		want func(sent v1alpha1.LoadTestSpec) v1alpha1.LoadTestSpec
	}{
		{
			name: "Constant with defaults",
			want: defaulted,
		},
		{
			name: "Ramp with startRate",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario = v1alpha1.Scenario{Type: v1alpha1.ScenarioRamp, StartRate: ptr.To[int64](10)}
				lt.Spec.TargetRate = ptr.To[int64](5000)
				lt.Spec.Workers = 4
			},
			want: func(sent v1alpha1.LoadTestSpec) v1alpha1.LoadTestSpec {
				got := defaulted(sent)
				got.Scenario.Type = v1alpha1.ScenarioRamp
				got.Workers = 4
				return got
			},
		},
		{
			name: "Stages with stages and no duration",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario = v1alpha1.Scenario{Type: v1alpha1.ScenarioStages, Stages: []v1alpha1.Stage{
					{Duration: metav1.Duration{Duration: 2 * time.Minute}, TargetRate: 1000},
					{Duration: metav1.Duration{Duration: 5 * time.Minute}, TargetRate: 8000},
					{Duration: metav1.Duration{Duration: time.Minute}, TargetRate: 0},
				}}
				lt.Spec.TargetRate = nil
				lt.Spec.Duration = nil
			},
			want: func(sent v1alpha1.LoadTestSpec) v1alpha1.LoadTestSpec {
				got := defaulted(sent)
				got.Scenario.Type = v1alpha1.ScenarioStages
				return got
			},
		},
		{
			name:   "no thresholds: admission writes the ratio defaults",
			mutate: func(lt *v1alpha1.LoadTest) { lt.Spec.Thresholds = nil },
			want: func(sent v1alpha1.LoadTestSpec) v1alpha1.LoadTestSpec {
				got := defaulted(sent)
				got.Thresholds = &v1alpha1.Thresholds{MinAchievedRateRatio: ptr.To("0.95"), MaxErrorRatio: ptr.To("0.001")}
				return got
			},
		},
		{
			name: "thresholds without the ratios get the ratio defaults",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Thresholds = &v1alpha1.Thresholds{MaxP99Latency: duration(time.Second)}
			},
			want: func(sent v1alpha1.LoadTestSpec) v1alpha1.LoadTestSpec {
				got := defaulted(sent)
				got.Thresholds = &v1alpha1.Thresholds{MinAchievedRateRatio: ptr.To("0.95"), MaxErrorRatio: ptr.To("0.001"), MaxP99Latency: duration(time.Second)}
				return got
			},
		},
		{
			name: "the user's own ratios are kept",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Thresholds = &v1alpha1.Thresholds{MinAchievedRateRatio: ptr.To("0"), MaxErrorRatio: ptr.To("1")}
			},
			want: func(sent v1alpha1.LoadTestSpec) v1alpha1.LoadTestSpec {
				got := defaulted(sent)
				got.Thresholds = &v1alpha1.Thresholds{MinAchievedRateRatio: ptr.To("0"), MaxErrorRatio: ptr.To("1")}
				return got
			},
		},
		{
			name: "sasl PLAIN over tls",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.TLS = &v1alpha1.KafkaTLS{}
				lt.Spec.Kafka.SASL = &v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLPlain, SecretRef: v1alpha1.SecretRef{Name: "kafka-user"}}
			},
			want: defaulted,
		},
		{
			name: "sasl PLAIN without tls, opted in",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.SASL = &v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLPlain, SecretRef: v1alpha1.SecretRef{Name: "kafka-user"}, AllowPlainWithoutTLS: true}
			},
			want: defaulted,
		},
		{
			name: "Strimzi KafkaUser Secrets",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.SASL = &v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLScramSHA512, SecretRef: v1alpha1.SecretRef{Name: "loadgen"}, Username: "loadgen"}
				lt.Spec.Kafka.TLS = &v1alpha1.KafkaTLS{
					CASecretRef:         &v1alpha1.SecretKeyRef{Name: "my-cluster-cluster-ca-cert", Key: "ca.crt"},
					ClientCertSecretRef: &v1alpha1.SecretRef{Name: "loadgen-tls"}, ClientCertKey: "user.crt", ClientKeyKey: "user.key",
				}
			},
			want: defaulted,
		},
		{
			name: "sasl SCRAM without tls",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Kafka.SASL = &v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLScramSHA256, SecretRef: v1alpha1.SecretRef{Name: "kafka-user"}}
			},
			want: defaulted,
		},
		{
			name: `Replay with speed "2.0"`,
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Scenario = v1alpha1.Scenario{Type: v1alpha1.ScenarioReplay, Speed: ptr.To("2.0")}
				lt.Spec.TargetRate = nil
			},
			want: func(sent v1alpha1.LoadTestSpec) v1alpha1.LoadTestSpec {
				got := defaulted(sent)
				got.Scenario.Type = v1alpha1.ScenarioReplay
				return got
			},
		},
		{
			name: "every optional section set",
			mutate: func(lt *v1alpha1.LoadTest) {
				lt.Spec.Workers = 8
				lt.Spec.TargetRate = ptr.To[int64](8000)
				lt.Spec.SampleSet = v1alpha1.SampleSet{
					PersistentVolumeClaim: &v1alpha1.SampleVolume{ClaimName: "samples", Path: "crm/2024-05"},
					Format:                v1alpha1.SampleFormatKcat,
					Loop:                  ptr.To(false),
				}
				lt.Spec.Kafka = v1alpha1.Kafka{
					BootstrapServers: []string{"kafka-0.kafka:9093", "10.0.0.7:9093"},
					TLS: &v1alpha1.KafkaTLS{
						CASecretRef:         &v1alpha1.SecretKeyRef{Name: "kafka-ca", Key: "ca.crt"},
						ClientCertSecretRef: &v1alpha1.SecretRef{Name: "kafka-client"},
					},
					SASL:     &v1alpha1.KafkaSASL{Mechanism: v1alpha1.SASLScramSHA512, SecretRef: v1alpha1.SecretRef{Name: "kafka-user"}},
					ClientID: "crm-load",
				}
				lt.Spec.Target = v1alpha1.Target{
					Topic:        "dbserver1.dbo.customers",
					Partitioning: v1alpha1.PartitioningRecorded,
					Acks:         v1alpha1.AcksLeader,
					Compression:  v1alpha1.CompressionZstd,
					Producer: &v1alpha1.Producer{BatchSize: ptr.To[int32](5000), BatchBytes: ptr.To[int64](4 << 20),
						Linger: duration(0), MaxAttempts: ptr.To[int32](10), WriteTimeout: duration(30 * time.Second)},
				}
				lt.Spec.Pipeline = &v1alpha1.Pipeline{OutputTopic: "crm.customers.enriched", ConsumerGroup: "crm-enricher"}
				lt.Spec.Thresholds = &v1alpha1.Thresholds{
					MinAchievedRateRatio:  ptr.To("1"),
					MaxErrorRatio:         ptr.To("0.001"),
					MaxDLQRecords:         ptr.To[int64](0),
					MaxP99Latency:         duration(250 * time.Millisecond),
					MaxEndToEndP99Latency: duration(2 * time.Second),
					MaxConsumerLag:        ptr.To[int64](10000),
				}
				lt.Spec.WorkerTemplate = &v1alpha1.WorkerTemplate{Image: "registry.example.com/streamreplay:dev", Labels: map[string]string{"team": "crm"}}
				lt.Spec.Cleanup = v1alpha1.Cleanup{Policy: v1alpha1.CleanupNever, TTLSecondsAfterFinished: ptr.To[int32](0)}
				lt.Spec.Timeouts = v1alpha1.Timeouts{Drain: duration(0)}
				lt.Name = strings.Repeat("a", 50)
			},
			want: func(sent v1alpha1.LoadTestSpec) v1alpha1.LoadTestSpec {
				got := sent
				got.Scenario.Type = v1alpha1.ScenarioConstant
				got.Timeouts.PodsReady = duration(5 * time.Minute)
				got.Timeouts.Start = duration(30 * time.Second)
				return got
			},
		},
	}

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			lt := base(fmt.Sprintf("valid-%02d", i))
			if tc.mutate != nil {
				tc.mutate(lt)
			}
			sent := *lt.Spec.DeepCopy()
			if err := k8sClient.Create(ctx, lt); err != nil {
				t.Fatalf("the API server refused a valid LoadTest: %v", err)
			}
			t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), lt) })

			got := &v1alpha1.LoadTest{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(lt), got); err != nil {
				t.Fatalf("reading the LoadTest back: %v", err)
			}
			if diff := cmp.Diff(tc.want(sent), got.Spec); diff != "" {
				t.Errorf("spec after defaulting (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpecIsImmutableExceptStop(t *testing.T) {
	ctx := testContext(t)
	lt := base("immutable")
	if err := k8sClient.Create(ctx, lt); err != nil {
		t.Fatalf("creating the LoadTest: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), lt) })
	key := client.ObjectKeyFromObject(lt)

	// update reads the current object, changes it and writes it back with the typed client.
	update := func(t *testing.T, change func(*v1alpha1.LoadTest)) error {
		t.Helper()
		cur := &v1alpha1.LoadTest{}
		if err := k8sClient.Get(ctx, key, cur); err != nil {
			t.Fatalf("reading the LoadTest: %v", err)
		}
		change(cur)
		return k8sClient.Update(ctx, cur)
	}

	refused := []struct {
		name   string
		change func(*v1alpha1.LoadTest)
		want   string
	}{
		{"targetRate", func(lt *v1alpha1.LoadTest) { lt.Spec.TargetRate = ptr.To[int64](200) }, "targetRate is immutable"},
		{"targetRate removed", func(lt *v1alpha1.LoadTest) { lt.Spec.TargetRate = nil }, "spec is immutable except stop"},
		{"duration", func(lt *v1alpha1.LoadTest) { lt.Spec.Duration = duration(2 * time.Minute) }, "duration is immutable"},
		{"workers", func(lt *v1alpha1.LoadTest) { lt.Spec.Workers = 2 }, "workers is immutable"},
		{"scenario", func(lt *v1alpha1.LoadTest) {
			lt.Spec.Scenario = v1alpha1.Scenario{Type: v1alpha1.ScenarioRamp, StartRate: ptr.To[int64](1)}
		}, "scenario is immutable"},
		{"sampleSet source", func(lt *v1alpha1.LoadTest) { lt.Spec.SampleSet.ConfigMapRef.Key = "other.jsonl" }, "sampleSet is immutable"},
		{"sampleSet loop", func(lt *v1alpha1.LoadTest) { lt.Spec.SampleSet.Loop = ptr.To(false) }, "sampleSet is immutable"},
		{"kafka", func(lt *v1alpha1.LoadTest) { lt.Spec.Kafka.BootstrapServers = []string{"kafka-1.kafka:9092"} }, "kafka is immutable"},
		{"target", func(lt *v1alpha1.LoadTest) { lt.Spec.Target.Acks = v1alpha1.AcksNone }, "target is immutable"},
		{"thresholds changed", func(lt *v1alpha1.LoadTest) { lt.Spec.Thresholds.MinAchievedRateRatio = ptr.To("0.5") }, "thresholds are immutable"},
		// Removed thresholds come back as the defaults, which differ from what was set.
		{"thresholds removed", func(lt *v1alpha1.LoadTest) { lt.Spec.Thresholds = nil }, "thresholds are immutable"},
		{"pipeline added", func(lt *v1alpha1.LoadTest) {
			lt.Spec.Pipeline = &v1alpha1.Pipeline{OutputTopic: "crm.customers.enriched"}
		}, "spec is immutable except stop"},
		{"deadLetterQueue removed", func(lt *v1alpha1.LoadTest) {
			lt.Spec.DeadLetterQueue = nil
			lt.Spec.Thresholds.MaxDLQRecords = nil
		}, "immutable"},
		{"workerTemplate added", func(lt *v1alpha1.LoadTest) {
			lt.Spec.WorkerTemplate = &v1alpha1.WorkerTemplate{Image: "example.com/other:1"}
		}, "spec is immutable except stop"},
		{"cleanup", func(lt *v1alpha1.LoadTest) { lt.Spec.Cleanup.Policy = v1alpha1.CleanupAlways }, "cleanup is immutable"},
		{"timeouts", func(lt *v1alpha1.LoadTest) { lt.Spec.Timeouts.Drain = duration(time.Minute) }, "timeouts are immutable"},
		{"stop together with another change", func(lt *v1alpha1.LoadTest) {
			lt.Spec.Stop = true
			lt.Spec.Workers = 3
		}, "workers is immutable"},
	}
	for _, tc := range refused {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			expectInvalid(t, update(t, tc.change), "immutable", tc.want)
		})
	}

	t.Run("accepted: labels and annotations", func(t *testing.T) {
		err := update(t, func(lt *v1alpha1.LoadTest) {
			lt.Labels = map[string]string{"team": "crm"}
			lt.Annotations = map[string]string{"streamreplay.io/note": "peak of 2024-05"}
		})
		if err != nil {
			t.Fatalf("a metadata update was refused: %v", err)
		}
	})

	t.Run("accepted: stop true", func(t *testing.T) {
		if err := update(t, func(lt *v1alpha1.LoadTest) { lt.Spec.Stop = true }); err != nil {
			t.Fatalf("setting spec.stop=true was refused: %v", err)
		}
		cur := &v1alpha1.LoadTest{}
		if err := k8sClient.Get(ctx, key, cur); err != nil {
			t.Fatalf("reading the LoadTest: %v", err)
		}
		if !cur.Spec.Stop {
			t.Fatalf("spec.stop is false after it was set to true")
		}
	})

	t.Run("accepted: stop true again and metadata after stop", func(t *testing.T) {
		err := update(t, func(lt *v1alpha1.LoadTest) {
			lt.Spec.Stop = true
			if lt.Labels == nil {
				lt.Labels = map[string]string{}
			}
			lt.Labels["stopped"] = "yes"
		})
		if err != nil {
			t.Fatalf("an update that keeps stop=true was refused: %v", err)
		}
	})

	// The typed client drops stop=false (omitempty), so the field disappears from the
	// request: the API must refuse that as well as an explicit false.
	t.Run("refused: stop back to false (field omitted)", func(t *testing.T) {
		err := update(t, func(lt *v1alpha1.LoadTest) { lt.Spec.Stop = false })
		expectInvalid(t, err, "spec.stop", "stop cannot be undone")
	})

	t.Run("refused: stop back to false (explicit false)", func(t *testing.T) {
		cur := &unstructured.Unstructured{}
		cur.SetAPIVersion(v1alpha1.GroupVersion.String())
		cur.SetKind("LoadTest")
		if err := k8sClient.Get(ctx, key, cur); err != nil {
			t.Fatalf("reading the LoadTest: %v", err)
		}
		set(false, "spec.stop")(cur.Object)
		err := k8sClient.Update(ctx, cur)
		expectInvalid(t, err, "spec.stop", "stop cannot be undone")
		if n := strings.Count(err.Error(), "stop cannot be undone"); n != 1 {
			t.Errorf("the message says %q %d times, want once: %v", "stop cannot be undone", n, err)
		}
	})
}

// A LoadTest written by hand (kubectl, GitOps) keeps its durations as written, "2m"; a Go
// client reads them into metav1.Duration and sends back "2m0s". The immutability rules must
// see that as no change, or every Get-then-Update by the operator or a tool would fail.
func TestGoClientUpdateOfHandWrittenDurationsIsAccepted(t *testing.T) {
	ctx := testContext(t)
	lt := base("hand-written-durations")
	lt.Spec.Scenario = v1alpha1.Scenario{Type: v1alpha1.ScenarioStages, Stages: []v1alpha1.Stage{
		{Duration: metav1.Duration{Duration: 2 * time.Minute}, TargetRate: 1000},
		{Duration: metav1.Duration{Duration: time.Hour}, TargetRate: 2000},
	}}
	lt.Spec.Duration, lt.Spec.TargetRate = nil, nil
	lt.Spec.Thresholds.MaxP99Latency = duration(time.Second)
	lt.Spec.Pipeline = &v1alpha1.Pipeline{OutputTopic: "crm.customers.enriched"}
	lt.Spec.Thresholds.MaxEndToEndP99Latency = duration(time.Minute)
	u := toUnstructured(t, lt)
	set([]any{
		map[string]any{"duration": "2m", "targetRate": int64(1000)},
		map[string]any{"duration": "60m", "targetRate": int64(2000)},
	}, "spec.scenario.stages")(u.Object)
	set("1000ms", "spec.thresholds.maxP99Latency")(u.Object)
	set("1m", "spec.thresholds.maxEndToEndP99Latency")(u.Object)
	set("10m", "spec.timeouts.podsReady")(u.Object)
	set("1m", "spec.timeouts.drain")(u.Object)
	if err := k8sClient.Create(ctx, u); err != nil {
		t.Fatalf("creating the LoadTest: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), u) })

	// A second one with a Constant scenario, for spec.duration.
	lt2 := base("hand-written-duration")
	u2 := toUnstructured(t, lt2)
	set("10m", "spec.duration")(u2.Object)
	if err := k8sClient.Create(ctx, u2); err != nil {
		t.Fatalf("creating the LoadTest: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), u2) })

	for _, key := range []client.ObjectKey{client.ObjectKeyFromObject(u), client.ObjectKeyFromObject(u2)} {
		cur := &v1alpha1.LoadTest{}
		if err := k8sClient.Get(ctx, key, cur); err != nil {
			t.Fatalf("reading %s: %v", key, err)
		}
		cur.Labels = map[string]string{"seen-by": "go-client"}
		if err := k8sClient.Update(ctx, cur); err != nil {
			t.Errorf("a labels-only Update from a Go client was refused for %s: %v", key, err)
		}
		cur.Spec.Stop = true
		if err := k8sClient.Update(ctx, cur); err != nil {
			t.Errorf("a stop Update from a Go client was refused for %s: %v", key, err)
		}
	}

	// A real change of a stage duration is still refused.
	cur := &v1alpha1.LoadTest{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(u), cur); err != nil {
		t.Fatalf("reading: %v", err)
	}
	cur.Spec.Scenario.Stages[1].Duration.Duration = 30 * time.Minute
	expectInvalid(t, k8sClient.Update(ctx, cur), "spec.scenario", "scenario is immutable")
}
