package main

import (
	"encoding/json"
	"fmt"
)

// Debezium 1.9's SQL Server connector with topic prefix ("server name")
// dbserver1 names its topics dbserver1.<schema>.<table>, and its value and
// envelope schemas after them. Values are written by Kafka Connect's
// JsonConverter with schemas.enable=true ({"schema": ..., "payload": ...});
// keys by a JsonConverter with schemas.enable=false ({"id": 1042}), a common
// setup that keeps keys short and stable for partitioning and compaction.
// DATETIME2(3) columns are io.debezium.time.Timestamp (epoch milliseconds),
// DECIMAL columns strings (decimal.handling.mode=string).
const (
	debeziumVersion = "1.9.7.Final"
	serverName      = "dbserver1"
	databaseName    = "DealerCRM"
	schemaName      = "dbo"
)

// Tables, in the order the summary lists them.
const (
	tCustomers    = "customers"
	tVehicles     = "vehicles"
	tAppointments = "service_appointments"
)

var tableNames = []string{tCustomers, tVehicles, tAppointments}

const typeStruct = "struct"

type customerRow struct {
	ID             int     `json:"id"`
	FirstName      string  `json:"first_name"`
	LastName       string  `json:"last_name"`
	Email          string  `json:"email"`
	Phone          *string `json:"phone"`
	City           *string `json:"city"`
	LoyaltyTier    string  `json:"loyalty_tier"`
	MarketingOptIn bool    `json:"marketing_opt_in"`
	CreatedAt      int64   `json:"created_at"`
	UpdatedAt      int64   `json:"updated_at"`
}

type vehicleRow struct {
	ID         int     `json:"id"`
	VIN        string  `json:"vin"`
	Make       string  `json:"make"`
	Model      string  `json:"model"`
	ModelYear  int     `json:"model_year"`
	Color      *string `json:"color"`
	MileageKm  int     `json:"mileage_km"`
	Status     string  `json:"status"`
	CustomerID *int    `json:"customer_id"`
	ListPrice  *string `json:"list_price"`
	CreatedAt  int64   `json:"created_at"`
	UpdatedAt  int64   `json:"updated_at"`
}

type appointmentRow struct {
	ID               int     `json:"id"`
	CustomerID       int     `json:"customer_id"`
	VehicleID        int     `json:"vehicle_id"`
	ScheduledAt      int64   `json:"scheduled_at"`
	ServiceType      string  `json:"service_type"`
	Status           string  `json:"status"`
	Advisor          *string `json:"advisor"`
	EstimatedMinutes *int    `json:"estimated_minutes"`
	Notes            *string `json:"notes"`
	CreatedAt        int64   `json:"created_at"`
	UpdatedAt        int64   `json:"updated_at"`
}

// field is a Kafka Connect schema field.
type field struct {
	Type     string          `json:"type"`
	Fields   []field         `json:"fields,omitempty"`
	Optional bool            `json:"optional"`
	Name     string          `json:"name,omitempty"`
	Version  int             `json:"version,omitempty"`
	Params   json.RawMessage `json:"parameters,omitempty"`
	Default  json.RawMessage `json:"default,omitempty"`
	Field    string          `json:"field,omitempty"`
}

func col(typ, name string, optional bool) field {
	return field{Type: typ, Optional: optional, Field: name}
}

func timestampCol(name string) field {
	return field{Type: "int64", Name: "io.debezium.time.Timestamp", Version: 1, Field: name}
}

var columns = map[string][]field{
	tCustomers: {
		col("int32", "id", false), col("string", "first_name", false), col("string", "last_name", false),
		col("string", "email", false), col("string", "phone", true), col("string", "city", true),
		col("string", "loyalty_tier", false), col("boolean", "marketing_opt_in", false),
		timestampCol("created_at"), timestampCol("updated_at"),
	},
	tVehicles: {
		col("int32", "id", false), col("string", "vin", false), col("string", "make", false),
		col("string", "model", false), col("int16", "model_year", false), col("string", "color", true),
		col("int32", "mileage_km", false), col("string", "status", false), col("int32", "customer_id", true),
		col("string", "list_price", true), timestampCol("created_at"), timestampCol("updated_at"),
	},
	tAppointments: {
		col("int32", "id", false), col("int32", "customer_id", false), col("int32", "vehicle_id", false),
		timestampCol("scheduled_at"), col("string", "service_type", false), col("string", "status", false),
		col("string", "advisor", true), col("int32", "estimated_minutes", true), col("string", "notes", true),
		timestampCol("created_at"), timestampCol("updated_at"),
	},
}

// valueSchema is the schema JsonConverter writes with every value of a table's topic.
func valueSchema(table string) json.RawMessage {
	prefix := fmt.Sprintf("%s.%s.%s", serverName, schemaName, table)
	row := func(name string) field {
		return field{Type: typeStruct, Fields: columns[table], Optional: true, Name: prefix + ".Value", Field: name}
	}
	source := field{Type: typeStruct, Name: "io.debezium.connector.sqlserver.Source", Field: "source", Fields: []field{
		col("string", "version", false), col("string", "connector", false), col("string", "name", false),
		col("int64", "ts_ms", false),
		{Type: "string", Optional: true, Name: "io.debezium.data.Enum", Version: 1,
			Params: json.RawMessage(`{"allowed":"true,last,false,incremental"}`), Default: json.RawMessage(`"false"`), Field: "snapshot"},
		col("string", "db", false), col("string", "sequence", true), col("string", "schema", false),
		col("string", "table", false), col("string", "change_lsn", true), col("string", "commit_lsn", true),
		col("int64", "event_serial_no", true),
	}}
	transaction := field{Type: typeStruct, Optional: true, Field: "transaction", Fields: []field{
		col("string", "id", false), col("int64", "total_order", false), col("int64", "data_collection_order", false),
	}}
	env := field{Type: typeStruct, Name: prefix + ".Envelope", Fields: []field{
		row("before"), row("after"), source, col("string", "op", false), col("int64", "ts_ms", true), transaction,
	}}
	b, err := json.Marshal(env)
	if err != nil {
		panic(err) // static data
	}
	return b
}

type sourceInfo struct {
	Version       string  `json:"version"`
	Connector     string  `json:"connector"`
	Name          string  `json:"name"`
	TsMs          int64   `json:"ts_ms"`
	Snapshot      string  `json:"snapshot"`
	DB            string  `json:"db"`
	Sequence      *string `json:"sequence"`
	Schema        string  `json:"schema"`
	Table         string  `json:"table"`
	ChangeLSN     string  `json:"change_lsn"`
	CommitLSN     string  `json:"commit_lsn"`
	EventSerialNo int     `json:"event_serial_no"`
}

type payload struct {
	Before      any        `json:"before"`
	After       any        `json:"after"`
	Source      sourceInfo `json:"source"`
	Op          string     `json:"op"`
	TsMs        int64      `json:"ts_ms"`
	Transaction any        `json:"transaction"` // null: provide.transaction.metadata=false
}

type envelope struct {
	Schema  json.RawMessage `json:"schema"`
	Payload *payload        `json:"payload"`
}

// lsn formats a SQL Server log sequence number (VLF:block:slot, in hex) from a counter.
func lsn(n uint64) string {
	return fmt.Sprintf("%08x:%08x:%04x", 0x2a+n/50000, 0x1c8+(n%50000)/3*0x18, n%3+2)
}
