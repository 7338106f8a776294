package cluster

import (
	"strings"
	"testing"

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
	for _, doc := range strings.Split(kafka+"\n---\n"+sasl, "\n---\n") {
		var obj map[string]any
		if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
			t.Errorf("%v in:\n%s", err, doc)
		}
	}
}
