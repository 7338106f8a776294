package samples

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gz compresses b.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ms(n int64) time.Time { return time.UnixMilli(n).UTC() }

// rec returns a record as Parse would, before the test's changes; source is "file:line".
func rec(source string, change func(*Record)) Record {
	file, line, _ := strings.Cut(source, ":")
	n, _ := strconv.Atoi(line)
	r := Record{Partition: -1, Source: Position{File: file, Line: n}}
	if change != nil {
		change(&r)
	}
	return r
}

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

var (
	firstNames = []string{"Ana", "Bruno", "Chen", "Dagmar", "Élodie", "Farid", "Grace", "Hiroshi", "Ines", "José"}
	lastNames  = []string{"Okafor", "Müller", "Silva", "Nakamura", "O'Brien", "Kowalski", "Haddad", "Rossi"}
	makes      = []string{"Toyota", "Volkswagen", "Ford", "Hyundai", "Renault", "Škoda"}
)

// debeziumEnvelope returns a Debezium-style SQL Server change event of a car
// dealership's CRM customer, about 1 KB of compact JSON.
func debeziumEnvelope(r *rand.Rand, id int) []byte {
	row := func() map[string]any {
		return map[string]any{
			"customer_id":     id,
			"first_name":      firstNames[r.IntN(len(firstNames))],
			"last_name":       lastNames[r.IntN(len(lastNames))],
			"email":           fmt.Sprintf("customer%d@example.com", id),
			"phone":           fmt.Sprintf("+44 20 7946 %04d", r.IntN(10000)),
			"street":          fmt.Sprintf("%d High Street", r.IntN(300)),
			"city":            "Manchester",
			"postcode":        "M1 1AE",
			"preferred_make":  makes[r.IntN(len(makes))],
			"loyalty_points":  r.IntN(5000),
			"credit_limit":    fmt.Sprintf("%d.%02d", r.IntN(50000), r.IntN(100)),
			"marketing_optin": r.IntN(2) == 1,
			"notes":           "Prefers Saturday appointments; asked about \"EV\" trade-in",
			"created_at":      1690000000000 + int64(r.IntN(1e9)),
			"updated_at":      1700000000000 + int64(r.IntN(1e9)),
		}
	}
	var before any
	op := "c"
	if r.IntN(3) > 0 {
		before, op = row(), "u"
	}
	env := map[string]any{
		"before": before,
		"after":  row(),
		"source": map[string]any{
			"version":         "2.5.4.Final",
			"connector":       "sqlserver",
			"name":            "crm",
			"ts_ms":           1714564800000 + int64(id),
			"snapshot":        "false",
			"db":              "dealership",
			"sequence":        nil,
			"schema":          "dbo",
			"table":           "customers",
			"change_lsn":      fmt.Sprintf("00000027:%08x:0003", id),
			"commit_lsn":      fmt.Sprintf("00000027:%08x:0005", id),
			"event_serial_no": 1,
		},
		"op":          op,
		"ts_ms":       1714564800100 + int64(id),
		"transaction": nil,
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic(err)
	}
	return b
}

// debeziumJSONLines returns about size bytes of JSON Lines samples.
func debeziumJSONLines(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for id := 1; b.Len() < size; id++ {
		fmt.Fprintf(&b, `{"key":{"customer_id":%d},"value":%s,"headers":{"traceparent":"00-%032x-%016x-01"},"timestamp":"2024-05-01T12:%02d:%02d.%03dZ"}`+"\n",
			id, debeziumEnvelope(r, id), r.Uint64(), r.Uint64(), id/60%60, id%60, id%1000)
	}
	return b.Bytes()
}

// debeziumKcat returns about size bytes of kcat -J output of the same events.
func debeziumKcat(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for id := 1; b.Len() < size; id++ {
		key, _ := json.Marshal(fmt.Sprintf(`{"customer_id":%d}`, id))
		payload, _ := json.Marshal(string(debeziumEnvelope(r, id)))
		fmt.Fprintf(&b, `{"topic":"crm.dbo.customers","partition":%d,"offset":%d,"tstype":"create","ts":%d,"broker":1,"headers":["traceparent","00-%032x-%016x-01"],"key":%s,"payload":%s}`+"\n",
			id%6, id/6, 1714564800000+int64(id), r.Uint64(), r.Uint64(), key, payload)
	}
	return b.Bytes()
}
