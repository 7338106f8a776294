// Command gen-samples generates the sample set that streamreplay ships: one
// business day of Debezium SQL Server change events of a car dealership's CRM
// (tables dbo.customers, dbo.vehicles, dbo.service_appointments), with a known
// number of malformed records that a pipeline dead-letters.
//
//	go run ./hack/gen-samples -out config/samples
//
// writes config/samples/crm-cdc-samples.yaml, a ConfigMap named crm-cdc-samples
// whose binaryData key samples.jsonl.gz holds the records (JSON Lines, gzip),
// and config/samples/crm-cdc-samples.summary.json, the counts tests assert.
// The output depends only on the flags: the same seed gives the same bytes.
//
// Records. One JSON object a line, in the order Debezium captured the changes:
//
//	{"key":{"id":1042},"timestamp":"2026-03-03T12:00:03.412Z","value":{"schema":{...},"payload":{...}}}
//
// The key is Debezium's key written by a JsonConverter with schemas disabled;
// the value the change event written by a JsonConverter with schemas enabled.
// Ids of the three tables do not overlap (customers from 1001, vehicles from
// 40001, appointments from 700001), so the keys stay distinct when, as in the
// demo, all tables are replayed into one topic. The records carry no topic, so
// the LoadTest's target topic receives them all; -topics sets each record's
// topic to its table's Debezium topic (dbserver1.dbo.customers, ...) instead.
// A delete is followed by its tombstone ("value":null, same key). The
// timestamp is the Kafka record's: it follows the capture time, with the
// bursts of batch jobs and of the connector's polling, for a Replay scenario.
//
// Malformed records (-malformed-ratio of -records, extra records inserted
// right after a create or update of the same key, with its timestamp) are the
// corruptions a pipeline meets; the "value" of each is what the pipeline reads:
//
//	invalid_json     a JSON string holding a truncated envelope: the bytes on the topic are broken JSON
//	missing_payload  {"schema":...} alone, or the bare payload without the envelope (schemas.enable mismatch)
//	unknown_op       payload.op is "x", "U" or "upsert"
//	missing_key      the row's primary key id is absent or null
//	wrong_type       a column of the wrong JSON type (id or model_year as a string, a boolean as "Y", ...)
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	manifestName = "crm-cdc-samples.yaml"
	summaryName  = "crm-cdc-samples.summary.json"
	configMap    = "crm-cdc-samples"
	dataKey      = "samples.jsonl.gz"
	// maxData is where the generator refuses: a ConfigMap holds at most 1 MiB of data
	// (binaryData counts decoded), and the sample set must stay well under it.
	maxData = 768 << 10
)

// Kinds of malformed records.
const (
	kindInvalidJSON    = "invalid_json"
	kindMissingPayload = "missing_payload"
	kindUnknownOp      = "unknown_op"
	kindMissingKey     = "missing_key"
	kindWrongType      = "wrong_type"
)

var malformedKinds = []string{kindInvalidJSON, kindMissingPayload, kindUnknownOp, kindMissingKey, kindWrongType}

type options struct {
	out       string
	seed      uint64
	records   int
	malformed float64
	topics    bool
	date      string
	jsonl     string
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "config/samples", "folder of the manifest and the summary")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the generator: the same seed gives the same files")
	flag.IntVar(&o.records, "records", 5000, "well-formed records (change events and tombstones)")
	flag.Float64Var(&o.malformed, "malformed-ratio", 0.01, "malformed records added, as a share of -records")
	flag.BoolVar(&o.topics, "topics", false, "set each record's topic to its table's topic (dbserver1.dbo.<table>); by default records have none and go to the LoadTest's target topic")
	flag.StringVar(&o.date, "date", "2026-03-03", "the recorded business day (07:00 to 19:00 US Eastern time, as UTC)")
	flag.StringVar(&o.jsonl, "jsonl", "", "also write the records, uncompressed, to this file (for reading; not committed)")
	flag.Parse()
	if err := run(&o, commandLine(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen-samples:", err)
		os.Exit(1)
	}
}

// commandLine is the command that regenerates the files, for the manifest's comment.
func commandLine() string {
	args := []string{"go run ./hack/gen-samples"}
	flag.Visit(func(f *flag.Flag) {
		if f.Name != "jsonl" {
			args = append(args, "-"+f.Name+" "+f.Value.String())
		}
	})
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-out ") }) {
		args = append(args, "-out config/samples")
	}
	return strings.Join(args, " ")
}

// Summary is what the sample set holds; tests assert these numbers.
type Summary struct {
	Command    string `json:"command"`
	Seed       uint64 `json:"seed"`
	Records    int    `json:"records"`
	WellFormed int    `json:"wellFormed"`
	Malformed  int    `json:"malformed"`
	Tombstones int    `json:"tombstones"`
	Keys       int    `json:"keys"`
	// ByOp counts the well-formed change events by payload.op (tombstones apart).
	ByOp map[string]int `json:"byOp"`
	// ByTable counts every record by table; a malformed record counts in the table of the event it corrupts.
	ByTable         map[string]*TableCounts `json:"byTable"`
	MalformedByKind map[string]int          `json:"malformedByKind"`
	// Expected is what a pipeline that dead-letters exactly the malformed records produces.
	Expected          Expected `json:"expected"`
	FirstTimestamp    string   `json:"firstTimestamp"`
	LastTimestamp     string   `json:"lastTimestamp"`
	TopicPerRecord    bool     `json:"topicPerRecord"`
	UncompressedBytes int      `json:"uncompressedBytes"`
	GzipBytes         int      `json:"gzipBytes"`
	ManifestBytes     int      `json:"manifestBytes"`
}

// TableCounts are the records of one table.
type TableCounts struct {
	Records    int `json:"records"`
	Creates    int `json:"c"`
	Updates    int `json:"u"`
	Deletes    int `json:"d"`
	Tombstones int `json:"tombstones"`
	Malformed  int `json:"malformed"`
}

// Expected is the outcome of replaying the set once through the example pipeline.
type Expected struct {
	Output       int `json:"output"`
	DeadLettered int `json:"deadLettered"`
}

func run(o *options, command string, stdout io.Writer) error {
	if o.records < 100 {
		return errors.New("-records: want at least 100")
	}
	if o.malformed < 0 || o.malformed > 0.5 || math.IsNaN(o.malformed) {
		return errors.New("-malformed-ratio: want 0 to 0.5")
	}
	day, err := time.Parse(time.DateOnly, o.date)
	if err != nil {
		return fmt.Errorf("-date: %w", err)
	}
	start := day.Add(12 * time.Hour) // 07:00 EST

	events, err := simulate(o.seed, start, o.records)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(o.seed, 0xbad_da7a)) //nolint:gosec // G404: reproducible sample data, not secrets
	nMalformed := int(math.Round(float64(o.records) * o.malformed))
	jsonl, sum, err := encode(events, nMalformed, r, o.topics)
	if err != nil {
		return err
	}
	sum.Command, sum.Seed = command, o.seed

	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if _, err := zw.Write(jsonl); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	sum.UncompressedBytes, sum.GzipBytes = len(jsonl), gz.Len()
	if gz.Len() > maxData {
		return fmt.Errorf("the sample set is %d bytes gzipped, more than %d: a ConfigMap holds at most 1 MiB; generate fewer records", gz.Len(), maxData)
	}
	manifest := renderManifest(gz.Bytes(), command, sum)
	sum.ManifestBytes = len(manifest)

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", o.out, err)
	}
	summary, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the summary: %w", err)
	}
	files := map[string][]byte{
		filepath.Join(o.out, manifestName): manifest,
		filepath.Join(o.out, summaryName):  append(summary, '\n'),
	}
	if o.jsonl != "" {
		files[o.jsonl] = jsonl
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o644); err != nil { //nolint:gosec // G306: files of the repository, readable like the rest of it
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	printSummary(stdout, sum, o.out)
	return nil
}

// simulate plays days at a growing scale until one has at least want
// well-formed records, and returns its first want (a delete is never
// separated from its tombstone).
func simulate(seed uint64, start time.Time, want int) ([]event, error) {
	scale := float64(want) / 5000
	for range 8 {
		events := newSim(seed, start, scale).run()
		out := make([]event, 0, want)
		for i := 0; i < len(events) && len(out) < want; i++ {
			e := events[i]
			if e.op == "d" {
				if len(out)+2 <= want {
					out = append(out, e, events[i+1])
				}
				i++ // the tombstone
				continue
			}
			out = append(out, e)
		}
		if len(out) == want {
			return out, nil
		}
		scale *= 1.03 * float64(want) / float64(len(out)+1)
	}
	return nil, fmt.Errorf("could not simulate %d records", want)
}

// line is one JSON Lines record, in the format of internal/samples.
type line struct {
	Topic     string          `json:"topic,omitempty"`
	Key       json.RawMessage `json:"key"`
	Timestamp string          `json:"timestamp"`
	Value     json.RawMessage `json:"value"`
}

// encode writes the events as JSON Lines, with n malformed records inserted, and counts them.
func encode(events []event, n int, r *rand.Rand, topics bool) ([]byte, *Summary, error) {
	schemas := map[string]json.RawMessage{}
	for _, t := range tableNames {
		schemas[t] = valueSchema(t)
	}
	// Which events get a malformed twin, and of which kind.
	var candidates []int
	for i := range events {
		if events[i].op == "c" || events[i].op == "u" {
			candidates = append(candidates, i)
		}
	}
	if n > len(candidates) {
		return nil, nil, fmt.Errorf("%d malformed records asked, only %d events to corrupt", n, len(candidates))
	}
	r.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	kinds := make([]string, n)
	for i := range kinds {
		kinds[i] = malformedKinds[i%len(malformedKinds)]
	}
	r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	twin := make(map[int]string, n)
	for i, k := range kinds {
		twin[candidates[i]] = k
	}

	sum := &Summary{
		ByOp: map[string]int{"c": 0, "u": 0, "d": 0}, ByTable: map[string]*TableCounts{},
		MalformedByKind: map[string]int{}, TopicPerRecord: topics,
	}
	for _, t := range tableNames {
		sum.ByTable[t] = &TableCounts{}
	}
	for _, k := range malformedKinds {
		sum.MalformedByKind[k] = 0
	}
	keys := map[string]bool{}
	variants := map[string]int{}
	var buf bytes.Buffer
	write := func(e *event, v []byte) error {
		l := line{
			Key:       fmt.Appendf(nil, `{"id":%d}`, e.id),
			Timestamp: e.timestamp.Format("2006-01-02T15:04:05.000Z07:00"),
			Value:     v,
		}
		if topics {
			l.Topic = fmt.Sprintf("%s.%s.%s", serverName, schemaName, e.table)
		}
		b, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("encoding a line: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
		keys[string(l.Key)] = true
		sum.ByTable[e.table].Records++
		return nil
	}
	for i := range events {
		e := &events[i]
		v, err := value(e, schemas)
		if err != nil {
			return nil, nil, err
		}
		if v == nil {
			v = []byte("null")
		}
		if err := write(e, v); err != nil {
			return nil, nil, err
		}
		tc := sum.ByTable[e.table]
		switch e.op {
		case "":
			sum.Tombstones++
			tc.Tombstones++
		case "c":
			tc.Creates++
		case "u":
			tc.Updates++
		case "d":
			tc.Deletes++
		}
		if e.op != "" {
			sum.ByOp[e.op]++
		}
		sum.WellFormed++
		kind, ok := twin[i]
		if !ok {
			continue
		}
		bad, err := corrupt(e, kind, variants[kind], schemas[e.table], r)
		if err != nil {
			return nil, nil, err
		}
		variants[kind]++
		if err := write(e, bad); err != nil {
			return nil, nil, err
		}
		sum.Malformed++
		sum.MalformedByKind[kind]++
		tc.Malformed++
	}
	sum.Records = sum.WellFormed + sum.Malformed
	sum.Keys = len(keys)
	sum.Expected = Expected{Output: sum.WellFormed, DeadLettered: sum.Malformed}
	sum.FirstTimestamp = events[0].timestamp.Format(time.RFC3339Nano)
	sum.LastTimestamp = events[len(events)-1].timestamp.Format(time.RFC3339Nano)
	return buf.Bytes(), sum, nil
}

// corrupt returns the "value" of a malformed twin of e, of the given kind; variant rotates the ways.
func corrupt(e *event, kind string, variant int, schema json.RawMessage, r *rand.Rand) (json.RawMessage, error) {
	p := *e.payload
	switch kind {
	case kindInvalidJSON:
		full, err := json.Marshal(envelope{Schema: schema, Payload: &p})
		if err != nil {
			return nil, fmt.Errorf("encoding: %w", err)
		}
		cut := len(full) * (30 + r.IntN(60)) / 100
		return marshal(string(full[:cut])) // a JSON string: its content is the record's bytes
	case kindMissingPayload:
		if variant%2 == 0 {
			return marshal(map[string]json.RawMessage{"schema": schema})
		}
		return marshal(&p) // written with schemas.enable=false: no envelope
	case kindUnknownOp:
		p.Op = []string{"x", "U", "upsert"}[variant%3]
		return marshal(envelope{Schema: schema, Payload: &p})
	case kindMissingKey:
		row, err := toMap(p.After)
		if err != nil {
			return nil, err
		}
		if variant%2 == 0 {
			delete(row, "id")
		} else {
			row["id"] = nil
		}
		p.After = row
		return marshal(envelope{Schema: schema, Payload: &p})
	case kindWrongType:
		row, err := toMap(p.After)
		if err != nil {
			return nil, err
		}
		wrongType(e.table, variant, row)
		p.After = row
		return marshal(envelope{Schema: schema, Payload: &p})
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// wrongType replaces a column of row with a value of the wrong JSON type.
func wrongType(table string, variant int, row map[string]any) {
	num := func(k string) string { return fmt.Sprint(row[k]) }
	switch {
	case variant%3 == 0:
		row["id"] = num("id") // the key as a string
	case table == tCustomers:
		row["marketing_opt_in"] = "Y"
	case table == tVehicles && variant%3 == 1:
		row["model_year"] = num("model_year")
	case table == tVehicles:
		n, _ := strconv.Atoi(num("mileage_km"))
		row["mileage_km"] = fmt.Sprintf("%d,%03d", n/1000, n%1000)
	case variant%3 == 1:
		ms, _ := strconv.ParseInt(num("scheduled_at"), 10, 64)
		row["scheduled_at"] = time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000")
	default:
		row["estimated_minutes"] = num("estimated_minutes") + " min"
	}
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding a row: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding a row: %w", err)
	}
	return m, nil
}

func marshal(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	return b, nil
}

func renderManifest(gz []byte, command string, sum *Summary) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Generated by `%s`: do not edit, regenerate.\n", command)
	fmt.Fprintf(&b, "# %d Debezium SQL Server change events of a car dealership's CRM (one business day of\n", sum.Records)
	b.WriteString("# dbo.customers, dbo.vehicles, dbo.service_appointments), JSON Lines, gzip; ")
	fmt.Fprintf(&b, "%d of them malformed\n# on purpose (a pipeline dead-letters them). Counts: %s. ", sum.Malformed, summaryName)
	b.WriteString("See hack/gen-samples for the format.\n")
	b.WriteString("# Apply with `kubectl apply --server-side` or `kubectl create`: client-side `kubectl apply` copies\n")
	b.WriteString("# the object into an annotation limited to 256 KiB, and this ConfigMap is larger.\n")
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n")
	fmt.Fprintf(&b, "  name: %s\n", configMap)
	b.WriteString("  labels:\n    app.kubernetes.io/name: streamreplay\n    app.kubernetes.io/component: sample-set\n")
	fmt.Fprintf(&b, "binaryData:\n  %s: %s\n", dataKey, base64.StdEncoding.EncodeToString(gz))
	return b.Bytes()
}

func printSummary(w io.Writer, s *Summary, out string) {
	fmt.Fprintf(w, "wrote %s (%d bytes; %d bytes gzip, %d uncompressed) and %s\n",
		filepath.Join(out, manifestName), s.ManifestBytes, s.GzipBytes, s.UncompressedBytes, filepath.Join(out, summaryName))
	fmt.Fprintf(w, "records %d: well-formed %d (tombstones %d), malformed %d; keys %d; %s to %s\n",
		s.Records, s.WellFormed, s.Tombstones, s.Malformed, s.Keys, s.FirstTimestamp, s.LastTimestamp)
	fmt.Fprintf(w, "by op: c %d, u %d, d %d\n", s.ByOp["c"], s.ByOp["u"], s.ByOp["d"])
	for _, t := range tableNames {
		c := s.ByTable[t]
		fmt.Fprintf(w, "  %-21s records %5d: c %4d, u %4d, d %3d, tombstones %3d, malformed %3d\n",
			t, c.Records, c.Creates, c.Updates, c.Deletes, c.Tombstones, c.Malformed)
	}
	fmt.Fprint(w, "malformed by kind:")
	for _, k := range malformedKinds {
		fmt.Fprintf(w, " %s %d", k, s.MalformedByKind[k])
	}
	fmt.Fprintf(w, "\nexpected through the example pipeline: output %d, dead-lettered %d\n", s.Expected.Output, s.Expected.DeadLettered)
}
