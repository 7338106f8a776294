package plugin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/record"
	"github.com/streamreplay/streamreplay/internal/samples"
)

// runPlugin runs the plugin's command line as kubectl would, with stdin in.
func runPlugin(t *testing.T, in string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(genericiooptions.IOStreams{In: strings.NewReader(in), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestRecordCommandWritesARedactedConfigMap(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic("orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range []string{`{"card":"4111-1111-1111-1111","n":1}`, `{"card":"5500-0000-0000-0004","n":2}`} {
		r := &kgo.Record{Key: []byte("cust-77"), Value: []byte(v), Headers: []kgo.RecordHeader{{Key: "X-Api-Key", Value: []byte("k-secret-1")}}}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("value:\n- {path: $.card, action: mask}\ndropHeaders: [x-api-key]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "cm.yaml")
	args := []string{"record", "orders", "--bootstrap-servers", strings.Join(cluster.ListenAddrs(), ","), "--rules", rules, "--hash", "key:$",
		"--configmap", "orders-recorded", "-n", "perf", "-o", manifest}

	// Without a salt, hashing is refused before anything is read.
	t.Setenv(record.SaltEnv, "")
	if _, _, err := runPlugin(t, "", args...); err == nil || !strings.Contains(err.Error(), "flag --hash key:$: hashing needs a salt") {
		t.Fatalf("no salt: %v", err)
	}
	t.Setenv(record.SaltEnv, "salt-from-the-environment")
	_, stderr, err := runPlugin(t, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "2 records read, 2 written (0 tombstones)") || !strings.Contains(stderr, "2 headers dropped") || !strings.Contains(stderr, "format: Kcat") {
		t.Errorf("summary:\n%s", stderr)
	}
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Name != "orders-recorded" || cm.Namespace != "perf" {
		t.Errorf("ConfigMap %s/%s", cm.Namespace, cm.Name)
	}
	gz := cm.BinaryData[record.DefaultConfigMapKey]
	set, err := samples.Parse(bytes.NewReader(gz), streamreplayv1alpha1.SampleFormatKcat, "cm")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range set.Records {
		for _, secret := range []string{"cust-77", "4111", "5500", "k-secret-1"} {
			if bytes.Contains(r.Key, []byte(secret)) || bytes.Contains(r.Value, []byte(secret)) {
				t.Errorf("record %s holds %q", r.Source, secret)
			}
		}
		if len(r.Headers) != 0 {
			t.Errorf("record %s keeps headers %v", r.Source, r.Headers)
		}
	}
	if len(set.Records) != 2 || !bytes.Equal(set.Records[0].Key, set.Records[1].Key) || len(set.Records[0].Key) != 32 {
		t.Errorf("one customer, one hashed key: %+v", set.Records)
	}
}

func TestRecordCommandRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"record", "t", "--bootstrap-servers", "x:1"}, "-o FILE (gzipped kcat -J) or --configmap NAME"},
		{[]string{"record", "t", "-o", "f", "--bootstrap-servers", "x:1", "--since", "yesterday"}, `--since "yesterday": not an RFC 3339 time`},
		{[]string{"record", "t", "-o", "f", "--bootstrap-servers", "x:1", "--offsets", "0:9-3"}, `--offsets "0:9-3": 3 is before 9`},
		{[]string{"record", "t", "-o", "f", "--bootstrap-servers", "x:1", "--snapshot", "--since", "2026-01-01T00:00:00Z"}, "--snapshot reads every record from the start"},
		{[]string{"record", "t", "-o", "f", "--bootstrap-servers", "x:1", "--sasl-password", "p"}, "unknown flag: --sasl-password"},
		{[]string{"record", "t", "-o", "f", "--bootstrap-servers", "x:1", "--mask", "value.x"}, "want key:PATH or value:PATH"},
	} {
		_, _, err := runPlugin(t, "", c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestARuleThatChangesNothingIsRefused(t *testing.T) {
	t.Setenv(record.SaltEnv, "")
	in := "CreateTime:1796025601000\tNO_HEADERS\tk\t{\"email\":\"bob@example.org\"}\n"
	out, _, err := runPlugin(t, in, "import-console-consumer", "-", "--mask", "value:$.emial", "-o", "-")
	if err == nil || !strings.Contains(err.Error(), "nothing written: flag --mask value:$.emial (mask $.emial) changed no record") || out != "" {
		t.Fatalf("a misspelt path: %v, output %q", err, out)
	}
	out, stderr, err := runPlugin(t, in, "import-console-consumer", "-", "--mask", "value:$.emial", "-o", "-", "--allow-unmatched-rules")
	if err != nil || out == "" || !strings.Contains(stderr, "warning: flag --mask value:$.emial (mask $.emial) changed no record") {
		t.Fatalf("--allow-unmatched-rules: %v, stderr %s", err, stderr)
	}
}

func TestImportConsoleConsumerCommand(t *testing.T) {
	t.Setenv(record.SaltEnv, "salt-from-the-environment")
	in := "CreateTime:1796025601000\tNO_HEADERS\talice@example.org\t{\"v\":1}\n" +
		"CreateTime:1796025602000\tNO_HEADERS\talice@example.org\tnull\n"
	stdout, stderr, err := runPlugin(t, in, "import-console-consumer", "-", "--topic", "users", "--hash", "key:$", "-o", "-")
	if err != nil {
		t.Fatal(err)
	}
	set, err := samples.Parse(strings.NewReader(stdout), streamreplayv1alpha1.SampleFormatKcat, "stdout")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Records) != 2 || set.Records[1].Value != nil || strings.Contains(stdout, "alice") || set.Records[0].Topic != "users" {
		t.Errorf("set %+v", set.Records)
	}
	if !strings.Contains(stderr, "2 written (1 tombstones)") {
		t.Errorf("summary %s", stderr)
	}
	_, _, err = runPlugin(t, "CreateTime:1\tNO_HEADERS\tk\tv\nbad line\n", "import-console-consumer", "-", "-o", "-")
	if err == nil || !strings.Contains(err.Error(), "standard input: line 2: no timestamp column") {
		t.Errorf("bad line: %v", err)
	}
	_, _, err = runPlugin(t, "k|v\n", "import-console-consumer", "-", "-o", "-", "--print-timestamp=false", "--print-headers=false", "--key-separator", `\x7c`)
	if err != nil {
		t.Errorf("an escaped separator: %v", err)
	}
}
