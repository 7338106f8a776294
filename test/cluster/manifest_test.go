package cluster

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestManifestsParse checks the real node's Kafka and pipeline manifests are valid YAML
// documents with the restricted security settings; it runs without a cluster.
func TestManifestsParse(t *testing.T) {
	kafka, err := kafkaManifest()
	if err != nil {
		t.Fatal(err)
	}
	sasl, err := render(saslKafkaTemplate, map[string]any{"Namespace": "ns", "Image": "img", "Topic": "t"})
	if err != nil {
		t.Fatal(err)
	}
	netcheck, err := render(netcheckTemplate, map[string]any{"Namespace": "ns", "Image": "img"})
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(netcheck), &pod); err != nil || len(pod.Spec.Containers) != 1 {
		t.Errorf("the netcheck pod: %v\n%s", err, netcheck)
	}
	var args []string
	for _, doc := range strings.Split(kafka+"\n---\n"+sasl, "\n---\n") {
		var obj struct {
			Kind string `json:"kind"`
			Spec struct {
				Template struct {
					Spec corev1.PodSpec `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Errorf("%v in:\n%s", err, doc)
		}
		if obj.Kind == "Deployment" {
			args = append(args, strings.Join(obj.Spec.Template.Spec.Containers[0].Args, " "))
		}
	}
	// A comma in a YAML flow sequence splits an argument: each list stays one argument.
	for _, want := range []string{
		"kafka --port=9092 --topics=crm.cdc,crm.cdc.enriched,crm.cdc.dlq,crm.cdc.slow,crm.cdc.slow.enriched,crm.cdc.slow.dlq --partitions=3",
		"kafka --port=9092 --topics=t --partitions=3 --sasl-dir=/var/run/secrets/kafka",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("no container runs %q; they run:\n%s", want, strings.Join(args, "\n"))
		}
	}
}
