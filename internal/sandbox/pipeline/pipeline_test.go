package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/segmentio/kafka-go"
)

const (
	sourceTs  = int64(1772539200000) // 2026-03-03T12:00:00Z
	captureTs = sourceTs + 1500
)

func customerRow(id int) map[string]any {
	return map[string]any{
		"id": id, "first_name": "Ada", "last_name": "Lovelace", "email": "ada.lovelace@Example.COM",
		"phone": nil, "city": "Dublin", "loyalty_tier": "gold", "marketing_opt_in": true,
		"created_at": sourceTs - 1000, "updated_at": sourceTs - 1000,
	}
}

func vehicleRow(id int) map[string]any {
	return map[string]any{
		"id": id, "vin": "1FTFW1E50NFA12345", "make": "Ford", "model": "F-150", "model_year": 2022,
		"color": nil, "mileage_km": 1200, "status": "in_stock", "customer_id": nil, "list_price": "52995.00",
	}
}

func appointmentRow(id int) map[string]any {
	return map[string]any{
		"id": id, "customer_id": 1042, "vehicle_id": 40001, "scheduled_at": sourceTs + 26*3600*1000,
		"service_type": "oil_change", "status": "scheduled", "advisor": "Dana Whitfield", "estimated_minutes": 45,
	}
}

// event encodes a Debezium change event, with JsonConverter's envelope.
func event(table, op string, before, after map[string]any, edit ...func(payload map[string]any)) []byte {
	payload := map[string]any{
		"before": before, "after": after, "op": op, "ts_ms": captureTs, "transaction": nil,
		"source": map[string]any{
			"version": "1.9.7.Final", "connector": "sqlserver", "name": "dbserver1", "ts_ms": sourceTs,
			"snapshot": "false", "db": "DealerCRM", "sequence": nil, "schema": "dbo", "table": table,
			"change_lsn": "0000002a:000001c8:0004", "commit_lsn": "0000002a:000001e0:0003", "event_serial_no": 1,
		},
	}
	for _, e := range edit {
		e(payload)
	}
	b, err := json.Marshal(map[string]any{"schema": map[string]any{"type": "struct", "optional": false}, "payload": payload})
	if err != nil {
		panic(err)
	}
	return b
}

func with(row map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(row))
	for key, val := range row {
		out[key] = val
	}
	if v == "<delete>" {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("output %s: %v", b, err)
	}
	return m
}

func TestTransform(t *testing.T) {
	now := time.UnixMilli(captureTs + 300)
	tests := []struct {
		name  string
		value []byte
		want  map[string]any // fields checked
	}{{
		name:  "customer created",
		value: event("customers", "c", nil, customerRow(1042)),
		want: map[string]any{
			"table": "customers", "db": "DealerCRM", "op": "create", "id": 1042.0, "first_name": "Ada",
			"full_name": "Ada Lovelace", "email_domain": "example.com", "lsn": "0000002a:000001e0:0003",
			"sourceTsMs": float64(sourceTs), "captureTsMs": float64(captureTs), "pipelineTsMs": float64(captureTs + 300),
			"phone": nil,
		},
	}, {
		name: "vehicle updated",
		value: event("vehicles", "u", vehicleRow(40001),
			with(with(vehicleRow(40001), "mileage_km", 1215), "status", "sold")),
		want: map[string]any{
			"table": "vehicles", "op": "update", "id": 40001.0, "mileage_km": 1215.0, "status": "sold",
			"changedFields": []any{"mileage_km", "status"}, "vehicle_age_years": 4.0, "display_name": "2022 Ford F-150",
		},
	}, {
		name:  "appointment deleted: the before row",
		value: event("service_appointments", "d", appointmentRow(700001), nil),
		want: map[string]any{
			"table": "service_appointments", "op": "delete", "id": 700001.0, "deleted": true, "status": "scheduled",
			"scheduled_at_iso": "2026-03-04T14:00:00Z", "lead_time_hours": 26.0,
		},
	}, {
		name:  "snapshot read",
		value: event("customers", "r", nil, customerRow(7)),
		want:  map[string]any{"op": "snapshot", "id": 7.0},
	}, {
		name:  "unknown table: flattened, id checked",
		value: event("invoices", "c", nil, map[string]any{"id": 9, "total": "12.50"}),
		want:  map[string]any{"table": "invoices", "op": "create", "id": 9.0, "total": "12.50"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Transform(tt.value, now)
			if err != nil {
				t.Fatal(err)
			}
			got := decode(t, out)
			for k, want := range tt.want {
				if !reflect.DeepEqual(got[k], want) {
					t.Errorf("%s = %#v, want %#v", k, got[k], want)
				}
			}
		})
	}
}

func TestTransformFailures(t *testing.T) {
	cust := customerRow(1042)
	tests := []struct {
		name   string
		value  []byte
		reason Reason
		stage  string
		msg    string // part of the message
	}{
		{"truncated JSON", event("customers", "c", nil, cust)[:120], ReasonInvalidJSON, StageValueConverter, "serialization error"},
		{"not JSON at all", []byte("\x00\x01binary"), ReasonInvalidJSON, StageValueConverter, "serialization error"},
		{"a JSON string", []byte(`"hello"`), ReasonMissingPayload, StageValueConverter, "schemas.enable"},
		{"schema without payload", []byte(`{"schema":{"type":"struct"}}`), ReasonMissingPayload, StageValueConverter, "schemas.enable"},
		{"null payload", []byte(`{"schema":{},"payload":null}`), ReasonMissingPayload, StageValueConverter, "schemas.enable"},
		{"unknown op", event("customers", "x", nil, cust), ReasonUnknownOp, StageTransformation, `"x"`},
		{"no op", event("customers", "", nil, cust), ReasonUnknownOp, StageTransformation, "unknown operation"},
		{"no id", event("customers", "c", nil, with(cust, "id", "<delete>")), ReasonMissingKey, StageTransformation, "primary key"},
		{"null id", event("customers", "u", cust, with(cust, "id", nil)), ReasonMissingKey, StageTransformation, "primary key"},
		{"no id in before of a delete", event("customers", "d", with(cust, "id", "<delete>"), nil), ReasonMissingKey, StageTransformation, "payload.before"},
		{"id as a string", event("customers", "c", nil, with(cust, "id", "1042")), ReasonSchemaViolation, StageTransformation, "not an integer"},
		{"boolean as a string", event("customers", "c", nil, with(cust, "marketing_opt_in", "Y")), ReasonSchemaViolation, StageTransformation, "marketing_opt_in"},
		{"required column missing", event("customers", "c", nil, with(cust, "email", "<delete>")), ReasonSchemaViolation, StageTransformation, "email is required"},
		{"model year as a string", event("vehicles", "c", nil, with(vehicleRow(4), "model_year", "2019")), ReasonSchemaViolation, StageTransformation, "model_year"},
		{"short VIN", event("vehicles", "c", nil, with(vehicleRow(4), "vin", "1FTFW1E5")), ReasonSchemaViolation, StageTransformation, "17 characters"},
		{"time as a string", event("service_appointments", "c", nil, with(appointmentRow(5), "scheduled_at", "2026-03-05 09:30")), ReasonSchemaViolation, StageTransformation, "scheduled_at"},
		{"ts_ms as a string", event("customers", "c", nil, cust, func(p map[string]any) { p["ts_ms"] = "1772539201000" }), ReasonSchemaViolation, StageTransformation, "payload.ts_ms"},
		{"no source", event("customers", "c", nil, cust, func(p map[string]any) { delete(p, "source") }), ReasonSchemaViolation, StageTransformation, "source.table"},
		{"after null on create", event("customers", "c", nil, nil), ReasonSchemaViolation, StageTransformation, "payload.after is null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Transform(tt.value, time.Now())
			if err == nil {
				t.Fatalf("no error; output %s", out)
			}
			f := failureOf(t, err)
			if f.Reason != tt.reason || f.Stage != tt.stage || f.Exception != DataException || !strings.Contains(f.Message, tt.msg) {
				t.Errorf("got %+v, want reason %s, stage %s, a message with %q", f, tt.reason, tt.stage, tt.msg)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, err := New(Config{InputTopic: "a", OutputTopic: "a", MaxRate: -1}, logr.Discard())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"no brokers", "no DLQ topic", "no consumer group", `input topic "a" is also an output`, "max rate -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestPipeline runs the pipeline against kfake: valid events come out
// transformed, once each, with their key and headers; malformed ones land in
// the DLQ with their key, value and headers and Kafka Connect's error
// headers; a tombstone passes; the group's lag reaches 0.
func TestPipeline(t *testing.T) {
	addr := cluster(t)
	key := func(id int) []byte { return fmt.Appendf(nil, `{"id":%d}`, id) }
	inputs := []struct {
		key, value []byte
		dead       Reason // "" when delivered
	}{
		{key(1042), event("customers", "c", nil, customerRow(1042)), ""},
		{key(40001), event("vehicles", "u", vehicleRow(40001), with(vehicleRow(40001), "status", "sold")), ""},
		{key(700001), event("service_appointments", "d", appointmentRow(700001), nil), ""},
		{key(700001), nil, ""}, // the delete's tombstone
		{key(1043), event("customers", "c", nil, customerRow(1043))[:200], ReasonInvalidJSON},
		{key(1044), event("customers", "upsert", nil, customerRow(1044)), ReasonUnknownOp},
		{key(1045), event("customers", "c", nil, with(customerRow(1045), "id", nil)), ReasonMissingKey},
		{key(1046), event("customers", "r", nil, customerRow(1046)), ""},
	}
	msgs := make([]kafka.Message, len(inputs))
	for i, in := range inputs {
		msgs[i] = kafka.Message{Key: in.key, Value: in.value, Headers: runHeaders(i)}
	}
	produce(t, addr, msgs...)
	p := start(t, testConfig(addr))
	waitFor(t, 20*time.Second, "all records processed", func() bool { return p.Stats().Processed == int64(len(inputs)) })

	s := p.Stats()
	wantBy := map[Reason]int64{ReasonInvalidJSON: 1, ReasonUnknownOp: 1, ReasonMissingKey: 1}
	if s.Delivered != 5 || s.Tombstones != 1 || s.DeadLettered != 3 || !reflect.DeepEqual(s.DeadLetteredBy, wantBy) {
		t.Errorf("stats %v, want delivered 5, tombstones 1, dead-lettered 3 %v", s, wantBy)
	}
	wantClasses := map[string]int64{DataException + " (VALUE_CONVERTER)": 1, DataException + " (TRANSFORMATION)": 2}
	if !reflect.DeepEqual(s.DeadLetteredByClass, wantClasses) {
		t.Errorf("dead letters by class %v, want %v", s.DeadLetteredByClass, wantClasses)
	}
	waitFor(t, 10*time.Second, "lag 0", func() bool { return lag(t, addr) == 0 })
	if n := count(t, addr, outTopic); n != 5 {
		t.Errorf("%d records on the output topic, want 5", n)
	}
	if n := count(t, addr, dlqTopic); n != 3 {
		t.Errorf("%d records on the DLQ topic, want 3", n)
	}

	// Where each input landed, by its sequence header.
	in := map[string]kafka.Message{}
	for _, m := range consume(t, addr, inTopic) {
		seq := header(m.Headers, "streamreplay-seq")
		in[seq] = m
	}
	seen := map[string]bool{}
	for _, m := range consume(t, addr, outTopic) {
		seq := header(m.Headers, "streamreplay-seq")
		i, _ := strconv.Atoi(seq)
		orig, ok := in[seq]
		if !ok || seen[seq] || inputs[i].dead != "" {
			t.Errorf("output record with seq %q: unexpected or duplicated", seq)
			continue
		}
		seen[seq] = true
		if !bytes.Equal(m.Key, orig.Key) || !reflect.DeepEqual(m.Headers, orig.Headers) {
			t.Errorf("output %s: key %s, headers %v; want %s, %v", seq, m.Key, m.Headers, orig.Key, orig.Headers)
		}
		if inputs[i].value == nil {
			if m.Value != nil {
				t.Errorf("the tombstone came out with value %q", m.Value)
			}
			continue
		}
		if out := decode(t, m.Value); out["id"] == nil || out["table"] == nil || out["pipelineTsMs"] == nil {
			t.Errorf("output %s is not a flat record: %s", seq, m.Value)
		}
	}
	for _, m := range consume(t, addr, dlqTopic) {
		seq := header(m.Headers, "streamreplay-seq")
		i, _ := strconv.Atoi(seq)
		orig, ok := in[seq]
		if !ok || seen[seq] || inputs[i].dead == "" {
			t.Errorf("dead letter with seq %q: unexpected or duplicated", seq)
			continue
		}
		seen[seq] = true
		if !bytes.Equal(m.Key, orig.Key) || !bytes.Equal(m.Value, orig.Value) ||
			!reflect.DeepEqual(m.Headers[:len(orig.Headers)], orig.Headers) {
			t.Errorf("dead letter %s does not keep the original key, value and headers", seq)
		}
		stage := StageTransformation
		if inputs[i].dead == ReasonInvalidJSON {
			stage = StageValueConverter
		}
		want := map[string]string{
			HeaderTopic: inTopic, HeaderPartition: strconv.Itoa(orig.Partition), HeaderOffset: strconv.FormatInt(orig.Offset, 10),
			HeaderConnectorName: group, HeaderTaskID: "0", HeaderStage: stage, HeaderExceptionClass: DataException,
		}
		for k, v := range want {
			if got := header(m.Headers, k); got != v {
				t.Errorf("dead letter %s: %s = %q, want %q", seq, k, got, v)
			}
		}
		for _, k := range []string{HeaderClassName, HeaderExceptionMessage, HeaderStacktrace} {
			if got := header(m.Headers, k); got == "" {
				t.Errorf("dead letter %s: no %s", seq, k)
			}
		}
	}
	if len(seen) != len(inputs) {
		t.Errorf("%d of %d inputs came out", len(seen), len(inputs))
	}
}

// TestPipelineMaxRate: a capped pipeline never processes more than MaxRate records per
// second, however fast its input arrives, and its lag grows. Only the cap is asserted: a
// busy machine can make the pipeline slower than its cap, never faster, so the test holds
// under load (it once asserted the rate within 10% and failed at 201/s of 250 on a loaded
// machine). The window measured can only be longer than the one the records were
// processed in: the clock is read before the first count and after the second.
func TestPipelineMaxRate(t *testing.T) {
	addr := cluster(t)
	const rate = 250.0
	msgs := make([]kafka.Message, 1500)
	for i := range msgs {
		msgs[i] = kafka.Message{
			Key: fmt.Appendf(nil, `{"id":%d}`, 1000+i), Value: event("customers", "c", nil, customerRow(1000+i)),
			Headers: runHeaders(i),
		}
	}
	produce(t, addr, msgs...)
	cfg := testConfig(addr)
	cfg.MaxRate = rate
	p := start(t, cfg)
	waitFor(t, 20*time.Second, "the first record", func() bool { return p.Stats().Processed > 0 })

	t0 := time.Now()
	n0 := p.Stats().Processed
	waitFor(t, time.Minute, "500 more records", func() bool { return p.Stats().Processed >= n0+500 })
	n1 := p.Stats().Processed
	elapsed := time.Since(t0)
	// The token bucket allows rate × elapsed plus its burst (a twentieth of a second's
	// worth); a batch taken before t0, at most a burst, may be counted after it.
	burst := rate / 20
	allowed := rate*elapsed.Seconds() + 2*burst
	t.Logf("%d records in %v: %.0f records/s (cap %.0f, at most %.0f allowed)", n1-n0, elapsed, float64(n1-n0)/elapsed.Seconds(), rate, allowed)
	if float64(n1-n0) > allowed {
		t.Errorf("%d records processed in %v, more than the %.0f that a cap of %.0f/s allows", n1-n0, elapsed, allowed, rate)
	}
	if l := lag(t, addr); l < 500 {
		t.Errorf("lag %d: a capped pipeline should fall behind", l)
	}
}

// TestPipelineDelay: each record spends at least Delay in the pipeline.
func TestPipelineDelay(t *testing.T) {
	addr := cluster(t)
	cfg := testConfig(addr)
	cfg.Delay = 300 * time.Millisecond
	p := start(t, cfg)
	produce(t, addr, kafka.Message{Key: []byte(`{"id":1}`), Value: event("customers", "c", nil, customerRow(1))})
	waitFor(t, 20*time.Second, "the warm-up record", func() bool { return p.Stats().Processed == 1 })

	sent := time.Now()
	produce(t, addr, kafka.Message{Key: []byte(`{"id":2}`), Value: event("customers", "c", nil, customerRow(2))})
	waitFor(t, 5*time.Second, "the second record", func() bool { return p.Stats().Processed == 2 })
	if d := time.Since(sent); d < cfg.Delay {
		t.Errorf("the record took %v, less than the delay %v", d, cfg.Delay)
	}
}
