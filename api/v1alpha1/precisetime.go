package v1alpha1

import (
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cbor "k8s.io/apimachinery/pkg/runtime/serializer/cbor/direct"
)

// PreciseTime is an instant kept to the microsecond: a metav1.MicroTime, written in RFC 3339
// with six fraction digits. Unlike metav1.MicroTime it also reads the whole-second form of
// metav1.Time, which status.startTime had before, so that LoadTests recorded by an earlier
// operator still decode.
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:Format=date-time
// +kubebuilder:object:generate=false
type PreciseTime struct {
	metav1.MicroTime
}

// NewPreciseTime is t cut to the microsecond, the precision that survives a round trip
// through the API server.
func NewPreciseTime(t time.Time) *PreciseTime {
	return &PreciseTime{MicroTime: metav1.NewMicroTime(t.Round(0).Truncate(time.Microsecond))}
}

// DeepCopyInto copies the instant.
func (t *PreciseTime) DeepCopyInto(out *PreciseTime) {
	*out = *t
}

// DeepCopy copies the instant.
func (t *PreciseTime) DeepCopy() *PreciseTime {
	if t == nil {
		return nil
	}
	out := *t
	return &out
}

// UnmarshalJSON reads RFC 3339 with or without fraction digits.
func (t *PreciseTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a time must be an RFC 3339 string: %w", err)
	}
	return t.parse(s)
}

// UnmarshalCBOR reads RFC 3339 with or without fraction digits.
func (t *PreciseTime) UnmarshalCBOR(b []byte) error {
	var s *string
	if err := cbor.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a time must be an RFC 3339 string: %w", err)
	}
	if s == nil {
		t.Time = time.Time{}
		return nil
	}
	return t.parse(*s)
}

func (t *PreciseTime) parse(s string) error {
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("a time must be in RFC 3339: %w", err)
	}
	t.Time = parsed.Truncate(time.Microsecond).Local()
	return nil
}
