package record

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/samples"
)

const topic = "crm.customers"

var salt = []byte("a-salt-of-enough-bytes-for-tests")

// produced is what the test wrote to the topic, in the order it wrote each key's records.
type produced struct {
	key       string // "" for no key
	value     map[string]any
	tombstone bool
	auth      string // the authorization header's value
	ts        time.Time
}

// customer is one customer's personal data: values no redacted set may hold.
func customer(i int) (id, email, phone, notes string) {
	return fmt.Sprintf("cust-%04d-x9", i), fmt.Sprintf("person%04d.q7@example.org", i), fmt.Sprintf("+33-6-%04d-7712", i), fmt.Sprintf("prefers-calls-after-%04d-zz", i)
}

// seedTopic writes, with an independent client (franz-go), 12 customers' change events
// over 3 partitions: several updates per customer, a tombstone for every fourth customer
// (and for every eighth, a record after the tombstone), and keyless heartbeats.
func seedTopic(t *testing.T) (plan.Kafka, []produced) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	base := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	var all []produced
	seq := 0
	add := func(p produced) {
		seq++
		p.ts = base.Add(time.Duration(seq) * time.Second)
		all = append(all, p)
	}
	for round := range 4 {
		for i := range 12 {
			id, email, phone, notes := customer(i)
			switch {
			case round == 2 && i%4 == 0:
				add(produced{key: id, tombstone: true, auth: "Bearer tok-" + id})
			case round == 3 && i%4 == 0 && i%8 != 0:
				// deleted and not written again
			default:
				add(produced{key: id, auth: "Bearer tok-" + id, value: map[string]any{
					"op": "u", "after": map[string]any{"id": id, "email": email, "phone": phone, "notes": notes, "round": round, "seq": seq + 1},
				}})
			}
		}
		add(produced{value: map[string]any{"heartbeat": round}})
	}
	ctx := context.Background()
	for _, p := range all {
		r := &kgo.Record{Timestamp: p.ts, Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}}}
		if p.key != "" {
			r.Key = []byte(p.key)
		}
		if p.auth != "" {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "Authorization", Value: []byte(p.auth)})
		}
		if !p.tombstone {
			r.Value, _ = json.Marshal(p.value)
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return plan.Kafka{BootstrapServers: cluster.ListenAddrs()}, all
}

func crmRules() Rules {
	return Rules{
		Key: []FieldRule{{Path: "$", Action: ActionHash}},
		Value: []FieldRule{
			{Path: "$.after.id", Action: ActionHash},
			{Path: "$.after.email", Action: ActionHash},
			{Path: "$.after.phone", Action: ActionMask},
			{Path: "$.after.notes", Action: ActionDrop},
		},
		DropHeaders: []string{"authorization"},
	}
}

// record reads the topic and builds the gzipped set, then loads it with the project's
// own loader, as a worker would.
func record(t *testing.T, k plan.Kafka, b Bounds, snapshot bool) ([]byte, *samples.Set, Summary) {
	t.Helper()
	red, err := NewRedactor(crmRules(), salt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	parts, err := Read(ctx, ReadOptions{Kafka: k, Topic: topic, Bounds: b})
	if err != nil {
		t.Fatal(err)
	}
	recs, s, err := Process(parts, b.Count, snapshot, red)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := Gzip(recs)
	if err != nil {
		t.Fatal(err)
	}
	set, err := samples.Parse(bytes.NewReader(gz), streamreplayv1alpha1.SampleFormatKcat, "recorded.kcat.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	return gz, set, s
}

func gunzip(t *testing.T, gz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRedactedValuesNeverAppearInTheSet(t *testing.T) {
	k, all := seedTopic(t)
	gz, set, s := record(t, k, Bounds{}, false)
	if len(set.Records) != len(all) || s.Written != len(all) {
		t.Fatalf("%d records in the set (summary %+v), %d produced", len(set.Records), s, len(all))
	}
	text := gunzip(t, gz)
	var originals []string
	for i := range 12 {
		id, email, phone, notes := customer(i)
		originals = append(originals, id, email, phone, notes, "Bearer tok-"+id, "tok-"+id)
	}
	checked := 0
	for _, v := range originals {
		// The value itself, and as JSON would escape it.
		for _, form := range []string{v, strings.Trim(string(jsonString(v)), `"`)} {
			checked++
			if bytes.Contains(text, []byte(form)) {
				t.Errorf("the recorded set holds the redacted value %q", form)
			}
		}
	}
	if checked != 12*6*2 {
		t.Fatalf("checked %d values", checked)
	}
	if !bytes.Contains(text, []byte(`\"phone\":\"****\"`)) || bytes.Contains(text, []byte(`\"notes\"`)) {
		t.Errorf("phone not masked or notes not dropped:\n%.400s", text)
	}
	if !bytes.Contains(text, []byte(`"trace","t1"`)) || bytes.Contains(bytes.ToLower(text), []byte("authorization")) {
		t.Errorf("the trace header should stay and Authorization go:\n%.400s", text)
	}
	if s.HeadersDropped == 0 || len(s.Unmatched) != 0 {
		t.Errorf("summary %+v", s)
	}
}

func TestHashedKeysKeepPerKeyOrderAndTombstones(t *testing.T) {
	k, all := seedTopic(t)
	_, set, s := record(t, k, Bounds{}, false)

	// Each customer's records in the order produced: its "seq" values, tombstones as -1.
	want := map[string][]int{}
	tombstones := 0
	for _, p := range all {
		if p.key == "" {
			continue
		}
		h := hashHex(salt, []byte(p.key))
		if p.tombstone {
			want[h] = append(want[h], -1)
			tombstones++
			continue
		}
		want[h] = append(want[h], p.value["after"].(map[string]any)["seq"].(int))
	}
	got := map[string][]int{}
	hashedIDs := map[string]string{}
	for _, r := range set.Records {
		if r.Key == nil {
			continue
		}
		if r.Value == nil {
			got[string(r.Key)] = append(got[string(r.Key)], -1)
			continue
		}
		var v struct {
			After struct {
				ID  string `json:"id"`
				Seq int    `json:"seq"`
			} `json:"after"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		got[string(r.Key)] = append(got[string(r.Key)], v.After.Seq)
		hashedIDs[string(r.Key)] = v.After.ID
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records per hashed key, in order (-want +got):\n%s", d)
	}
	if len(got) != 12 {
		t.Errorf("%d hashed keys, want one per customer (12)", len(got))
	}
	for key, id := range hashedIDs {
		if key != id {
			t.Errorf("key %s and the hashed id %s in its value differ: one customer, one hash", key, id)
		}
	}
	if s.Tombstones != tombstones || tombstones == 0 {
		t.Errorf("%d tombstones in the set, %d produced", s.Tombstones, tombstones)
	}
}

func TestSnapshotEqualsTheCompactedState(t *testing.T) {
	k, all := seedTopic(t)
	_, set, s := record(t, k, Bounds{}, true)
	// The compacted state, from what was produced: the latest value of each key, no key
	// whose latest record is a tombstone.
	want := map[string]int{}
	for _, p := range all {
		switch {
		case p.key == "":
		case p.tombstone:
			delete(want, hashHex(salt, []byte(p.key)))
		default:
			want[hashHex(salt, []byte(p.key))] = p.value["after"].(map[string]any)["seq"].(int)
		}
	}
	got := map[string]int{}
	for _, r := range set.Records {
		var v struct {
			After struct{ Seq int } `json:"after"`
		}
		if r.Key == nil || r.Value == nil {
			t.Fatalf("the snapshot holds a keyless record or a tombstone: %+v", r)
		}
		if _, dup := got[string(r.Key)]; dup {
			t.Fatalf("key %s twice in the snapshot", r.Key)
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		got[string(r.Key)] = v.After.Seq
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("snapshot (-want +got):\n%s", d)
	}
	if len(want) == 12 || len(want) == 0 {
		t.Fatalf("the seeded topic should have deleted keys: %d live", len(want))
	}
	if s.Keyless != 4 {
		t.Errorf("%d keyless records left out, want the 4 heartbeats", s.Keyless)
	}
}

func TestBounds(t *testing.T) {
	k, all := seedTopic(t)
	base := all[0].ts
	cases := map[string]struct {
		b     Bounds
		check func(t *testing.T, recs []samples.Record)
	}{
		"count keeps the earliest": {b: Bounds{Count: 10}, check: func(t *testing.T, recs []samples.Record) {
			if len(recs) != 10 {
				t.Fatalf("%d records", len(recs))
			}
			for i, r := range recs {
				if !r.Timestamp.Equal(all[i].ts) {
					t.Errorf("record %d at %s, want %s", i, r.Timestamp, all[i].ts)
				}
			}
		}},
		"time window": {b: Bounds{Since: base.Add(10 * time.Second), Until: base.Add(20 * time.Second)}, check: func(t *testing.T, recs []samples.Record) {
			if len(recs) != 10 {
				t.Errorf("%d records between +10s and +20s, want 10", len(recs))
			}
			for _, r := range recs {
				if r.Timestamp.Before(base.Add(10*time.Second)) || !r.Timestamp.Before(base.Add(20*time.Second)) {
					t.Errorf("record at %s outside the window", r.Timestamp)
				}
			}
		}},
		"offsets": {b: Bounds{Offsets: map[int32]OffsetRange{1: {From: 2, To: 4}}}, check: func(t *testing.T, recs []samples.Record) {
			if len(recs) != 3 {
				t.Fatalf("%d records, want offsets 2 to 4 of partition 1", len(recs))
			}
			for _, r := range recs {
				if r.Partition != 1 {
					t.Errorf("record of partition %d", r.Partition)
				}
			}
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, set, _ := record(t, k, c.b, false)
			c.check(t, set.Records)
		})
	}
}

func TestNonJSONNamesTheRuleAndRecord(t *testing.T) {
	k, _ := seedTopic(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.BootstrapServers...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Partition: 2, Key: []byte("k"), Value: []byte("secret plain text")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	parts, err := Read(context.Background(), ReadOptions{Kafka: k, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	last := parts[2][len(parts[2])-1]
	red, _ := NewRedactor(crmRules(), salt)
	_, _, err = Process(parts, 0, false, red)
	want := fmt.Sprintf("value rule 1 (hash $.after.id): partition 2 offset %d: the value is not JSON", last.Offset)
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %v, want it to contain %q and not the value", err, want)
	}

	rules := crmRules()
	rules.NonJSON = NonJSONDropRecord
	red, _ = NewRedactor(rules, salt)
	recs, s, err := Process(parts, 0, false, red)
	if err != nil || s.NonJSONDropped != 1 || s.Written != s.Read-1 || len(recs) != s.Written {
		t.Fatalf("drop-record: %v, summary %+v", err, s)
	}
}
