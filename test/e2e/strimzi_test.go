package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

const strimziLoadTest = "crm-cdc-strimzi"

// TestStrimziKafkaUserSecret runs a LoadTest against a SCRAM-SHA-512 Kafka with a Secret
// shaped like the one Strimzi's User Operator writes for a KafkaUser: named after the user,
// with the keys password and sasl.jaas.config and no username key. The LoadTest names the
// user in sasl.username, as Strimzi's clients do.
func TestStrimziKafkaUserSecret(t *testing.T) {
	password := randomPassword(t)
	redactFromOutput(password)
	brokers := saslKafka(t, password)

	applySamples(t)
	// The Secret from files, so that the password is in no command line.
	dir := t.TempDir()
	pass, jaas := filepath.Join(dir, "password"), filepath.Join(dir, "sasl.jaas.config")
	if err := os.WriteFile(pass, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	jaasConfig := `org.apache.kafka.common.security.scram.ScramLoginModule required username="` + saslUser + `" password="` + password + `";`
	if err := os.WriteFile(jaas, []byte(jaasConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, "create", "secret", "generic", saslUser, "--from-file=password="+pass, "--from-file=sasl.jaas.config="+jaas)
	mustKubectl(t, "label", "secret", saslUser, "strimzi.io/kind=KafkaUser", "strimzi.io/cluster=my-cluster")

	manifest := saslManifest(t, strimziLoadTest, saslUser, brokers)
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	secretLine := "      secretRef: {name: " + saslUser + "}\n"
	if !strings.Contains(string(data), secretLine) {
		t.Fatalf("the SASL manifest has no line %q:\n%s", secretLine, data)
	}
	doc := strings.Replace(string(data), secretLine, secretLine+"      username: "+saslUser+"\n", 1)
	if err := os.WriteFile(manifest, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, "apply", "--server-side", "-f", manifest)

	// kubectl get with one name gives the object, not a list: waitFinished wants two or more.
	var phase string
	if err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 4*time.Minute, true, func(context.Context) (bool, error) {
		phase = jsonpath(t, strimziLoadTest, "{.status.phase}")
		return phase == "Passed" || phase == "Failed" || phase == "Error" || phase == "Aborted", nil
	}); err != nil {
		t.Fatalf("LoadTest %s not finished after 4m: phase %q", strimziLoadTest, phase)
	}
	if phase != "Passed" {
		t.Fatalf("LoadTest %s ended %s, want Passed: %s", strimziLoadTest, phase,
			redact(jsonpath(t, strimziLoadTest, "{.status.message}")))
	}
	res := resultsDocument(t, strimziLoadTest)
	if res.Totals.Acked == 0 || res.Totals.Failed != 0 {
		t.Errorf("totals %+v: every record should be acknowledged, and some sent", res.Totals)
	}
	if got := countTopicRecords(t, brokers, password); got != res.Totals.Acked {
		t.Errorf("%d records in %s of the SASL Kafka, %d acknowledged", got, saslTopic, res.Totals.Acked)
	}
	t.Logf("%s: %d records acknowledged with the Strimzi-shaped Secret", strimziLoadTest, res.Totals.Acked)
}
