package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// loadTestWrapper builds LoadTests for the unit tests: loadTest(name), then the changes,
// then Obj(), which gives the object as admission would store it (withCRDDefaults). Every
// field that has a default is set before the defaults are applied, as a user writes it.
type loadTestWrapper struct {
	streamreplayv1alpha1.LoadTest
}

// loadTest starts from a valid spec: 4 workers, 5000 records/s for 10 minutes, JSON Lines
// samples from a ConfigMap, two brokers without TLS or SASL, no DLQ and no pipeline (so no
// observer). Everything else is left to the CRD's defaults.
func loadTest(name string) *loadTestWrapper {
	return &loadTestWrapper{streamreplayv1alpha1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace, UID: types.UID(testUID)},
		Spec: streamreplayv1alpha1.LoadTestSpec{
			TargetRate: ptr.To[int64](5000),
			Duration:   &metav1.Duration{Duration: 10 * time.Minute},
			Workers:    4,
			SampleSet: streamreplayv1alpha1.SampleSet{
				ConfigMapRef: &streamreplayv1alpha1.ConfigMapKeyRef{Name: "crm-cdc-samples", Key: "samples.jsonl.gz"},
				Format:       streamreplayv1alpha1.SampleFormatJSONLines,
			},
			Kafka:  streamreplayv1alpha1.Kafka{BootstrapServers: []string{"kafka-0.kafka:9092", "kafka-1.kafka:9092"}},
			Target: streamreplayv1alpha1.Target{Topic: testTopic},
		},
	}}
}

// Obj is the LoadTest as admission stores it.
func (w *loadTestWrapper) Obj() *streamreplayv1alpha1.LoadTest {
	return withCRDDefaults(&w.LoadTest)
}

func (w *loadTestWrapper) Generation(g int64) *loadTestWrapper {
	w.ObjectMeta.Generation = g
	return w
}

func (w *loadTestWrapper) Workers(n int32) *loadTestWrapper {
	w.Spec.Workers = n
	return w
}

func (w *loadTestWrapper) TargetRate(rate int64) *loadTestWrapper {
	w.Spec.TargetRate = ptr.To(rate)
	return w
}

func (w *loadTestWrapper) Duration(d time.Duration) *loadTestWrapper {
	w.Spec.Duration = &metav1.Duration{Duration: d}
	return w
}

// Ramp rises from startRate to the target rate.
func (w *loadTestWrapper) Ramp(startRate int64) *loadTestWrapper {
	w.Spec.Scenario = streamreplayv1alpha1.Scenario{Type: streamreplayv1alpha1.ScenarioRamp, StartRate: ptr.To(startRate)}
	return w
}

// Stages takes the run's rates and length from the stages: no target rate, no duration.
func (w *loadTestWrapper) Stages(stages ...streamreplayv1alpha1.Stage) *loadTestWrapper {
	w.Spec.Scenario = streamreplayv1alpha1.Scenario{Type: streamreplayv1alpha1.ScenarioStages, Stages: stages}
	w.Spec.TargetRate, w.Spec.Duration = nil, nil
	return w
}

// stage is one stage of a Stages scenario.
func stage(d time.Duration, rate int64) streamreplayv1alpha1.Stage {
	return streamreplayv1alpha1.Stage{Duration: metav1.Duration{Duration: d}, TargetRate: rate}
}

// Replay replays the recorded timing at speed, with no rate cap (TargetRate adds one).
func (w *loadTestWrapper) Replay(speed string) *loadTestWrapper {
	w.Spec.Scenario = streamreplayv1alpha1.Scenario{Type: streamreplayv1alpha1.ScenarioReplay, Speed: ptr.To(speed)}
	w.Spec.TargetRate = nil
	return w
}

// Capacity searches within c: no target rate, no duration.
func (w *loadTestWrapper) Capacity(c streamreplayv1alpha1.CapacitySearch) *loadTestWrapper {
	w.Spec.Scenario = streamreplayv1alpha1.Scenario{Type: streamreplayv1alpha1.ScenarioCapacity}
	w.Spec.Capacity = &c
	w.Spec.TargetRate, w.Spec.Duration = nil, nil
	return w
}

// SampleSet replaces the sample source and its settings.
func (w *loadTestWrapper) SampleSet(s streamreplayv1alpha1.SampleSet) *loadTestWrapper {
	w.Spec.SampleSet = s
	return w
}

// PVC takes the samples from a claim instead of the ConfigMap, keeping the format.
func (w *loadTestWrapper) PVC(claim, path string) *loadTestWrapper {
	w.Spec.SampleSet.ConfigMapRef = nil
	w.Spec.SampleSet.PersistentVolumeClaim = &streamreplayv1alpha1.SampleVolume{ClaimName: claim, Path: path}
	return w
}

// URL downloads the samples instead of reading the ConfigMap, keeping the format.
func (w *loadTestWrapper) URL(url string) *loadTestWrapper {
	w.Spec.SampleSet.ConfigMapRef = nil
	w.Spec.SampleSet.URL = url
	return w
}

func (w *loadTestWrapper) Format(f streamreplayv1alpha1.SampleFormat) *loadTestWrapper {
	w.Spec.SampleSet.Format = f
	return w
}

func (w *loadTestWrapper) Loop(loop bool) *loadTestWrapper {
	w.Spec.SampleSet.Loop = ptr.To(loop)
	return w
}

func (w *loadTestWrapper) TLS(tls streamreplayv1alpha1.KafkaTLS) *loadTestWrapper {
	w.Spec.Kafka.TLS = &tls
	return w
}

func (w *loadTestWrapper) SASL(sasl streamreplayv1alpha1.KafkaSASL) *loadTestWrapper {
	w.Spec.Kafka.SASL = &sasl
	return w
}

// SCRAM authenticates with SCRAM-SHA-512 and the credentials of Secret secret.
func (w *loadTestWrapper) SCRAM(secret string) *loadTestWrapper {
	return w.SASL(streamreplayv1alpha1.KafkaSASL{Mechanism: streamreplayv1alpha1.SASLScramSHA512, SecretRef: streamreplayv1alpha1.SecretRef{Name: secret}})
}

// DLQ watches the dead-letter topic, which brings the observer.
func (w *loadTestWrapper) DLQ(topic string) *loadTestWrapper {
	return w.DeadLetterQueue(streamreplayv1alpha1.DeadLetterQueue{Topic: topic})
}

func (w *loadTestWrapper) DeadLetterQueue(dlq streamreplayv1alpha1.DeadLetterQueue) *loadTestWrapper {
	w.Spec.DeadLetterQueue = &dlq
	return w
}

func (w *loadTestWrapper) Pipeline(outputTopic, consumerGroup string) *loadTestWrapper {
	w.Spec.Pipeline = &streamreplayv1alpha1.Pipeline{OutputTopic: outputTopic, ConsumerGroup: consumerGroup}
	return w
}

func (w *loadTestWrapper) Thresholds(t streamreplayv1alpha1.Thresholds) *loadTestWrapper {
	w.Spec.Thresholds = &t
	return w
}

func (w *loadTestWrapper) WorkerTemplate(t streamreplayv1alpha1.WorkerTemplate) *loadTestWrapper {
	w.Spec.WorkerTemplate = &t
	return w
}

// Timeouts sets the timeouts; those left out get the CRD's defaults.
func (w *loadTestWrapper) Timeouts(t streamreplayv1alpha1.Timeouts) *loadTestWrapper {
	w.Spec.Timeouts = t
	return w
}

// Cleanup sets the cleanup; what is left out gets the CRD's defaults.
func (w *loadTestWrapper) Cleanup(c streamreplayv1alpha1.Cleanup) *loadTestWrapper {
	w.Spec.Cleanup = c
	return w
}

// EarlyStop turns early stopping on; a window left out gets the CRD's default.
func (w *loadTestWrapper) EarlyStop(e streamreplayv1alpha1.EarlyStop) *loadTestWrapper {
	w.Spec.EarlyStop = &e
	return w
}

func (w *loadTestWrapper) Stop() *loadTestWrapper {
	w.Spec.Stop = true
	return w
}

// Status sets the status the test starts from.
func (w *loadTestWrapper) Status(st streamreplayv1alpha1.LoadTestStatus) *loadTestWrapper {
	w.LoadTest.Status = st
	return w
}

// Finished ends the run in phase at completed.
func (w *loadTestWrapper) Finished(phase streamreplayv1alpha1.Phase, completed time.Time) *loadTestWrapper {
	w.LoadTest.Status.Phase = phase
	w.LoadTest.Status.CompletionTime = &metav1.Time{Time: completed}
	return w
}

// Created sets the creation time, from which the pods' readiness timeout counts.
func (w *loadTestWrapper) Created(t time.Time) *loadTestWrapper {
	w.CreationTimestamp = metav1.Time{Time: t}
	return w
}

// dur is a *metav1.Duration, as the spec holds durations.
func dur(d time.Duration) *metav1.Duration {
	return &metav1.Duration{Duration: d}
}
