package v1alpha1_test

import (
	"encoding/json"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"

	v1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

func TestPreciseTime(t *testing.T) {
	instant := time.Date(2026, 11, 25, 10, 0, 7, 423456789, time.UTC)
	st := v1alpha1.LoadTestStatus{StartTime: v1alpha1.NewPreciseTime(instant)}

	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"startTime":"2026-11-25T10:00:07.423456Z"}`; string(data) != want {
		t.Errorf("JSON = %s, want %s", data, want)
	}
	var back v1alpha1.LoadTestStatus
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if want := instant.Truncate(time.Microsecond); !back.StartTime.Time.Equal(want) {
		t.Errorf("read back %s, want %s", back.StartTime.Time, want)
	}
	// The operator compares statuses with equality.Semantic before writing one.
	if !equality.Semantic.DeepEqual(st, back) {
		t.Errorf("a status is not semantically equal to itself read back")
	}

	// Written by an earlier operator (metav1.Time): whole seconds.
	var old v1alpha1.LoadTestStatus
	if err := json.Unmarshal([]byte(`{"startTime":"2026-11-25T10:00:07Z"}`), &old); err != nil {
		t.Fatalf("a whole-second start time does not decode: %v", err)
	}
	if want := time.Date(2026, 11, 25, 10, 0, 7, 0, time.UTC); !old.StartTime.Time.Equal(want) {
		t.Errorf("whole-second start time read as %s", old.StartTime.Time)
	}
	// As the dynamic client and the tests' unstructured objects carry it.
	var fromMap v1alpha1.LoadTestStatus
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(map[string]any{"startTime": "2026-11-25T10:00:07Z"}, &fromMap); err != nil {
		t.Fatalf("from unstructured: %v", err)
	}
	asMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&st)
	if err != nil {
		t.Fatal(err)
	}
	if asMap["startTime"] != "2026-11-25T10:00:07.423456Z" {
		t.Errorf("to unstructured: %v", asMap["startTime"])
	}
	if err := json.Unmarshal([]byte(`{"startTime":"yesterday"}`), &old); err == nil {
		t.Error("a start time that is not RFC 3339 was accepted")
	}
}
