package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Reason says why a record was dead-lettered.
type Reason string

// Reasons for dead-lettering a record.
const (
	// ReasonInvalidJSON: the value is not JSON (for example truncated).
	ReasonInvalidJSON Reason = "invalid_json"
	// ReasonMissingPayload: the value is JSON but not a {"schema", "payload"} envelope with a payload.
	ReasonMissingPayload Reason = "missing_payload"
	// ReasonUnknownOp: payload.op is not one of c, u, d, r.
	ReasonUnknownOp Reason = "unknown_op"
	// ReasonMissingKey: the row has no primary key (id absent or null).
	ReasonMissingKey Reason = "missing_key"
	// ReasonSchemaViolation: a field has the wrong type, or a required one is missing (see tables).
	ReasonSchemaViolation Reason = "schema_violation"
)

// Kafka Connect's error stages, and the classes the dead letters name.
const (
	StageValueConverter = "VALUE_CONVERTER"
	StageTransformation = "TRANSFORMATION"
	// DataException is the exception class of every dead letter of this pipeline, as of Connect's converters and SMTs.
	DataException = "org.apache.kafka.connect.errors.DataException"
	// ConverterClass is the executing class of the VALUE_CONVERTER stage.
	ConverterClass = "org.apache.kafka.connect.json.JsonConverter"
	// TransformClass is the executing class of the TRANSFORMATION stage (a made-up SMT name).
	TransformClass = "io.streamreplay.example.FlattenCdcEvent"
)

// Header keys of Kafka Connect's DeadLetterQueueReporter (errors.deadletterqueue.context.headers.enable=true),
// in the order Connect writes them. Partition and offset are decimal text.
const (
	HeaderTopic            = "__connect.errors.topic"
	HeaderPartition        = "__connect.errors.partition"
	HeaderOffset           = "__connect.errors.offset"
	HeaderConnectorName    = "__connect.errors.connector.name"
	HeaderTaskID           = "__connect.errors.task.id"
	HeaderStage            = "__connect.errors.stage"
	HeaderClassName        = "__connect.errors.class.name"
	HeaderExceptionClass   = "__connect.errors.exception.class.name"
	HeaderExceptionMessage = "__connect.errors.exception.message"
	HeaderStacktrace       = "__connect.errors.exception.stacktrace"
)

// schemasEnableMessage is JsonConverter's message for a value that is not an envelope.
const schemasEnableMessage = `JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields.` +
	` If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.`

// Failure is why a record cannot be processed, as the dead letter's headers say it.
type Failure struct {
	Reason    Reason
	Stage     string // StageValueConverter or StageTransformation
	Executing string // the executing class (converter or transformation)
	Exception string // the exception's class
	Message   string
}

func (f *Failure) Error() string { return string(f.Reason) + ": " + f.Message }

// Class is how the observer names the dead letter's class: "<exception class> (<stage>)".
func (f *Failure) Class() string { return f.Exception + " (" + f.Stage + ")" }

func converterFailure(reason Reason, msg string) *Failure {
	return &Failure{Reason: reason, Stage: StageValueConverter, Executing: ConverterClass, Exception: DataException, Message: msg}
}

func transformFailure(reason Reason, format string, args ...any) *Failure {
	return &Failure{
		Reason: reason, Stage: StageTransformation, Executing: TransformClass, Exception: DataException,
		Message: fmt.Sprintf(format, args...),
	}
}

// ConnectErrorHeaders returns the headers of m's dead letter: m's own headers,
// then Kafka Connect's error headers for f. connector is the connector's name.
func ConnectErrorHeaders(m *kafka.Message, f *Failure, connector string) []kafka.Header {
	hs := make([]kafka.Header, 0, len(m.Headers)+10)
	hs = append(hs, m.Headers...)
	add := func(k, v string) { hs = append(hs, kafka.Header{Key: k, Value: []byte(v)}) }
	add(HeaderTopic, m.Topic)
	add(HeaderPartition, strconv.Itoa(m.Partition))
	add(HeaderOffset, strconv.FormatInt(m.Offset, 10))
	add(HeaderConnectorName, connector)
	add(HeaderTaskID, "0")
	add(HeaderStage, f.Stage)
	add(HeaderClassName, f.Executing)
	add(HeaderExceptionClass, f.Exception)
	add(HeaderExceptionMessage, f.Message)
	add(HeaderStacktrace, f.Exception+": "+f.Message+"\n\tat "+f.Executing+"(streamreplay example pipeline)")
	return hs
}

// Operations, as the output names them.
var opNames = map[string]string{"c": "create", "u": "update", "d": "delete", "r": "snapshot"}

// column kinds of the schemas the pipeline enforces.
type kind int

const (
	kindInt kind = iota
	kindString
	kindBool
)

func (k kind) String() string {
	switch k {
	case kindInt:
		return "an integer"
	case kindString:
		return "a string"
	default:
		return "a boolean"
	}
}

type column struct {
	name     string
	kind     kind
	required bool // neither absent nor null
}

// The known tables.
const (
	tableCustomers    = "customers"
	tableVehicles     = "vehicles"
	tableAppointments = "service_appointments"
)

// audit are the columns every known table ends with.
var audit = []column{{"created_at", kindInt, false}, {"updated_at", kindInt, false}}

// tables are the schemas of the known tables; a column not listed is passed
// on unchecked (schema evolution), a listed one must have its kind or be null.
// Other tables are flattened with their id checked only.
var tables = map[string][]column{
	tableCustomers: append([]column{
		{"id", kindInt, true}, {"first_name", kindString, true}, {"last_name", kindString, true},
		{"email", kindString, true}, {"phone", kindString, false}, {"city", kindString, false},
		{"loyalty_tier", kindString, false}, {"marketing_opt_in", kindBool, false},
	}, audit...),
	tableVehicles: append([]column{
		{"id", kindInt, true}, {"vin", kindString, true}, {"make", kindString, true},
		{"model", kindString, true}, {"model_year", kindInt, true}, {"color", kindString, false},
		{"mileage_km", kindInt, false}, {"status", kindString, false}, {"customer_id", kindInt, false},
		{"list_price", kindString, false},
	}, audit...),
	tableAppointments: append([]column{
		{"id", kindInt, true}, {"customer_id", kindInt, true}, {"vehicle_id", kindInt, true},
		{"scheduled_at", kindInt, true}, {"service_type", kindString, true}, {"status", kindString, true},
		{"advisor", kindString, false}, {"estimated_minutes", kindInt, false}, {"notes", kindString, false},
	}, audit...),
}

// change is a Debezium change event's payload.
type change struct {
	Before map[string]any `json:"before"`
	After  map[string]any `json:"after"`
	Source *source        `json:"source"`
	Op     string         `json:"op"`
	TsMs   *int64         `json:"ts_ms"`
}

type source struct {
	Connector string  `json:"connector"`
	DB        string  `json:"db"`
	Schema    string  `json:"schema"`
	Table     string  `json:"table"`
	TsMs      int64   `json:"ts_ms"`
	ChangeLSN *string `json:"change_lsn"`
	CommitLSN *string `json:"commit_lsn"`
}

// Transform turns the value of a Debezium change event (JsonConverter with
// schemas: {"schema": ..., "payload": {"before", "after", "source", "op", "ts_ms"}})
// into a flat, enriched record:
//
//	{"table": "customers", "db": "DealerCRM", "op": "create|update|delete|snapshot", "id": 1042,
//	 <the columns of after, or of before for a delete>, "lsn": <commit_lsn>,
//	 "sourceTsMs": <source.ts_ms>, "captureTsMs": <ts_ms>, "pipelineTsMs": <now>,
//	 "changedFields": [...] (updates), "deleted": true (deletes), <derived fields>}
//
// Derived fields: customers get full_name and email_domain, vehicles
// vehicle_age_years and display_name, service appointments scheduled_at_iso
// and lead_time_hours. A value that cannot be transformed returns a *Failure.
func Transform(value []byte, now time.Time) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(value, &top); err != nil {
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok { // JSON, but not an object
			return nil, converterFailure(ReasonMissingPayload, schemasEnableMessage)
		}
		return nil, converterFailure(ReasonInvalidJSON,
			"Converting byte[] to Kafka Connect data failed due to serialization error: "+err.Error())
	}
	payload, ok := top["payload"]
	if !ok || bytes.Equal(payload, []byte("null")) {
		return nil, converterFailure(ReasonMissingPayload, schemasEnableMessage)
	}
	var ch change
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&ch); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			field := "payload"
			if te.Field != "" {
				field += "." + te.Field
			}
			return nil, transformFailure(ReasonSchemaViolation, "%s: %s is not %s", field, te.Value, te.Type)
		}
		return nil, transformFailure(ReasonSchemaViolation, "payload: %v", err)
	}
	opName, ok := opNames[ch.Op]
	if !ok {
		return nil, transformFailure(ReasonUnknownOp, "unknown operation %q: want c, u, d or r", ch.Op)
	}
	if ch.Source == nil || ch.Source.Table == "" {
		return nil, transformFailure(ReasonSchemaViolation, "payload.source.table is missing")
	}
	src := ch.Source
	rowName, row := "after", ch.After
	if ch.Op == "d" {
		rowName, row = "before", ch.Before
	}
	if row == nil {
		return nil, transformFailure(ReasonSchemaViolation, "payload.%s is null for op %q", rowName, ch.Op)
	}
	idValue, ok := row["id"]
	if !ok || idValue == nil {
		return nil, transformFailure(ReasonMissingKey, "%s.%s: primary key id is missing from payload.%s", src.Schema, src.Table, rowName)
	}
	id, ok := integer(idValue)
	if !ok {
		return nil, transformFailure(ReasonSchemaViolation, "%s.%s: payload.%s.id: %v is not an integer", src.Schema, src.Table, rowName, idValue)
	}
	if f := checkColumns(src, rowName, row); f != nil {
		return nil, f
	}

	out := make(map[string]any, len(row)+12)
	for k, v := range row {
		out[k] = v
	}
	out["table"] = src.Table
	out["db"] = src.DB
	out["op"] = opName
	out["id"] = id
	lsn := src.CommitLSN
	if lsn == nil {
		lsn = src.ChangeLSN
	}
	out["lsn"] = lsn
	out["sourceTsMs"] = src.TsMs
	out["captureTsMs"] = ch.TsMs
	out["pipelineTsMs"] = now.UnixMilli()
	switch ch.Op {
	case "d":
		out["deleted"] = true
	case "u":
		if ch.Before != nil {
			out["changedFields"] = changedFields(ch.Before, ch.After)
		}
	}
	enrich(src, row, out)
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding the output record: %w", err)
	}
	return b, nil
}

// checkColumns checks row against its table's schema, when the table is known.
func checkColumns(src *source, rowName string, row map[string]any) *Failure {
	for _, c := range tables[src.Table] {
		v, present := row[c.name]
		if !present || v == nil {
			if c.required {
				return transformFailure(ReasonSchemaViolation, "%s.%s: payload.%s.%s is required", src.Schema, src.Table, rowName, c.name)
			}
			continue
		}
		var ok bool
		switch c.kind {
		case kindInt:
			_, ok = integer(v)
		case kindString:
			_, ok = v.(string)
		case kindBool:
			_, ok = v.(bool)
		}
		if !ok {
			return transformFailure(ReasonSchemaViolation, "%s.%s: payload.%s.%s: %s is not %v", src.Schema, src.Table, rowName, c.name, describe(v), c.kind)
		}
	}
	if src.Table == tableVehicles {
		if vin, _ := row["vin"].(string); len(vin) != 17 {
			return transformFailure(ReasonSchemaViolation, "%s.%s: payload.%s.vin %q does not have 17 characters", src.Schema, src.Table, rowName, vin)
		}
	}
	return nil
}

// describe shows a JSON value in a message, briefly.
func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

func integer(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// changedFields lists the columns whose values differ between before and after, sorted.
func changedFields(before, after map[string]any) []string {
	changed := []string{}
	for k, v := range after {
		if old, ok := before[k]; !ok || !reflect.DeepEqual(old, v) {
			changed = append(changed, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	return changed
}

// enrich adds the derived fields of the known tables.
func enrich(src *source, row, out map[string]any) {
	switch src.Table {
	case tableCustomers:
		first, _ := row["first_name"].(string)
		last, _ := row["last_name"].(string)
		out["full_name"] = strings.TrimSpace(first + " " + last)
		if email, _ := row["email"].(string); strings.Contains(email, "@") {
			out["email_domain"] = strings.ToLower(email[strings.LastIndexByte(email, '@')+1:])
		}
	case tableVehicles:
		year, ok := integer(row["model_year"])
		if !ok {
			return
		}
		at := time.UnixMilli(src.TsMs).UTC()
		out["vehicle_age_years"] = max(0, int64(at.Year())-year)
		mk, _ := row["make"].(string)
		model, _ := row["model"].(string)
		out["display_name"] = fmt.Sprintf("%d %s %s", year, mk, model)
	case tableAppointments:
		at, ok := integer(row["scheduled_at"])
		if !ok {
			return
		}
		out["scheduled_at_iso"] = time.UnixMilli(at).UTC().Format(time.RFC3339)
		hours := float64(at-src.TsMs) / float64(time.Hour/time.Millisecond)
		out["lead_time_hours"] = math.Round(hours*10) / 10
	}
}
