package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/runheaders"
	"github.com/streamreplay/streamreplay/internal/samples"
)

// TestRecordedSetReplaysWithExactAccounting records real traffic the way a user does
// (`kubectl streamreplay record` found by kubectl on PATH, redacting as it goes), applies
// the ConfigMap it writes, replays it once through a LoadTest, and checks that every
// recorded record was scheduled, acknowledged and is in the target topic exactly once, in
// each key's order, as an independent client (franz-go) reads it.
func TestRecordedSetReplaysWithExactAccounting(t *testing.T) {
	const (
		source, target = "record.source", "record.replayed"
		name           = "recorded-replay"
		count          = 200 // = targetRate × duration of the LoadTest below, with one worker
	)
	createTopics(t, source, target)
	emails := produceCustomers(t, source)

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "kubectl-streamreplay"), repoRoot+"/cmd/kubectl-streamreplay")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	saltFile := filepath.Join(bin, "salt")
	if err := os.WriteFile(saltFile, []byte("an-e2e-salt-of-enough-bytes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	manifestFile := filepath.Join(bin, "recorded.yaml")
	out := runKubectlPlugin(t, bin, "streamreplay", "record", source, "--bootstrap-servers", strings.Join(sbx.Brokers, ","),
		"--count", fmt.Sprint(count), "--hash", "key:$", "--hash", "value:$.after.email", "--drop-header", "authorization",
		"--salt-file", saltFile, "--configmap", "recorded-set", "-o", manifestFile)
	if !strings.Contains(out, fmt.Sprintf("%d written", count)) {
		t.Fatalf("record's summary: %s", out)
	}
	mustKubectl(t, "apply", "--server-side", "-f", manifestFile)

	data, err := os.ReadFile(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	gz := cm.BinaryData["samples.kcat.json.gz"]
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(zr)
	for _, e := range emails {
		if bytes.Contains(text, []byte(e)) {
			t.Fatalf("the recorded set holds the email %s", e)
		}
	}
	set, err := samples.Parse(bytes.NewReader(gz), streamreplayv1alpha1.SampleFormatKcat, "recorded-set")
	if err != nil || len(set.Records) != count {
		t.Fatalf("the recorded set: %v, %d records", err, len(set.Records))
	}

	lt := fmt.Sprintf(`apiVersion: streamreplay.io/v1alpha1
kind: LoadTest
metadata: {name: %s}
spec:
  scenario: {type: Constant}
  targetRate: 40
  duration: 5s
  workers: 1
  sampleSet:
    configMapRef: {name: recorded-set, key: samples.kcat.json.gz}
    format: Kcat
    loop: false
  kafka: {bootstrapServers: [%q]}
  target: {topic: %s, partitioning: Key, acks: All}
  timeouts: {podsReady: 1m, drain: 5s}
`, name, sbx.Brokers[0], target)
	ltFile := filepath.Join(bin, "lt.yaml")
	if err := os.WriteFile(ltFile, []byte(lt), 0o600); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, "apply", "-f", ltFile)
	waitPhase(t, name, "Passed")

	doc := resultsDocument(t, name)
	if tot := doc.Totals; tot.Scheduled != count || tot.Sent != count || tot.Acked != count || tot.Failed != 0 {
		t.Errorf("totals %+v: want all %d recorded records scheduled, sent and acknowledged", tot, count)
	}

	// The target topic, read by franz-go: exactly the recorded records, each key's in order.
	got := readTopic(t, target)
	if len(got) != count {
		t.Fatalf("%d records in %s, %d recorded", len(got), target, count)
	}
	runID := jsonpath(t, name, "{.metadata.uid}")
	want := map[string][]string{}
	for _, r := range set.Records {
		want[string(r.Key)] = append(want[string(r.Key)], describeRecord(r.Value, r.Headers))
	}
	replayed := map[string][]string{}
	for _, r := range got {
		var hs []samples.Header
		for _, h := range r.Headers {
			switch h.Key {
			case runheaders.RunID:
				if string(h.Value) != runID {
					t.Errorf("a record of run %s in %s", h.Value, target)
				}
			case runheaders.Worker, runheaders.Sequence, runheaders.Intended:
			default:
				hs = append(hs, samples.Header{Key: h.Key, Value: h.Value})
			}
		}
		replayed[string(r.Key)] = append(replayed[string(r.Key)], describeRecord(r.Value, hs))
	}
	if d := cmp.Diff(want, replayed); d != "" {
		t.Errorf("records per key, in order: recorded (-) and replayed (+):\n%s", d)
	}
}

// describeRecord is a record's value and headers as one comparable string; a tombstone
// is told from an empty value.
func describeRecord(value []byte, headers []samples.Header) string {
	v := "tombstone"
	if value != nil {
		v = fmt.Sprintf("%q", value)
	}
	var hs []string
	for _, h := range headers {
		hs = append(hs, h.Key+"="+string(h.Value))
	}
	return v + " " + strings.Join(hs, ",")
}

func createTopics(t *testing.T, topics ...string) {
	t.Helper()
	conn, err := kafka.Dial("tcp", sbx.Brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	var cfgs []kafka.TopicConfig
	for _, tp := range topics {
		cfgs = append(cfgs, kafka.TopicConfig{Topic: tp, NumPartitions: 3, ReplicationFactor: 1})
	}
	if err := conn.CreateTopics(cfgs...); err != nil {
		t.Fatal(err)
	}
}

// produceCustomers writes 20 customers' change events, 12 each, with a tombstone for some,
// and returns their emails (which the recording hashes).
func produceCustomers(t *testing.T, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(sbx.Brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var emails []string
	base := time.Now().Add(-time.Hour)
	var recs []*kgo.Record
	for round := range 12 {
		for c := range 20 {
			key := fmt.Sprintf("customer-%02d", c)
			email := fmt.Sprintf("c%02d.r%02d@mail.example", c, round)
			r := &kgo.Record{Key: []byte(key), Timestamp: base.Add(time.Duration(len(recs)) * time.Millisecond),
				Headers: []kgo.RecordHeader{{Key: "Authorization", Value: []byte("Bearer secret-" + key)}, {Key: "source", Value: []byte("crm")}}}
			if round == 5 && c%5 == 0 {
				recs = append(recs, r) // a tombstone
				continue
			}
			emails = append(emails, email)
			r.Value, _ = json.Marshal(map[string]any{"op": "u", "after": map[string]any{"email": email, "round": round}})
			recs = append(recs, r)
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return emails
}

// runKubectlPlugin runs kubectl with the plugin's folder first on PATH: kubectl finds
// kubectl-streamreplay there, as it does for a user.
func runKubectlPlugin(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+sbx.Kubeconfig, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// readTopic reads every record of a topic, up to the end offsets it has now.
func readTopic(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(sbx.Brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range int32(3) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("end offset of %s/%d: error %d", topic, p.Partition, p.ErrorCode)
		}
		total += p.Offset
	}
	var recs []*kgo.Record
	for int64(len(recs)) < total {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of the %d records of %s: %v", len(recs), total, topic, err)
		}
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}
