package record

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/streamreplay/streamreplay/internal/samples"
)

// BenchmarkRedactAndEncode is the cost per record of the CRM rules (hash the key, hash two
// fields, mask one, drop one, drop a header) and of writing its kcat line, on a ~400-byte
// Debezium-like change event.
func BenchmarkRedactAndEncode(b *testing.B) {
	red, err := NewRedactor(crmRules(), salt)
	if err != nil {
		b.Fatal(err)
	}
	value, _ := json.Marshal(map[string]any{
		"op": "u", "ts_ms": 1796025601000, "source": map[string]any{"db": "crm", "table": "customers", "lsn": 123456789},
		"before": nil,
		"after": map[string]any{"id": "cust-0001-x9", "email": "person0001.q7@example.org", "phone": "+33-6-0001-7712",
			"notes": "prefers-calls-after-0001-zz", "segment": "gold", "balance": 1234.56, "tags": []string{"a", "b"}},
	})
	var line []byte
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec := Record{Topic: topic, Partition: 1, Offset: int64(i), Key: []byte(fmt.Sprintf("cust-%04d", i%1000)), Value: value,
			Headers: []samples.Header{{Key: "Authorization", Value: []byte("Bearer x")}, {Key: "trace", Value: []byte("t1")}}}
		if _, err := red.Apply(&rec); err != nil {
			b.Fatal(err)
		}
		line = AppendKcat(line[:0], &rec)
	}
}
