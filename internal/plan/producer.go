package plan

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// Producer is spec.target.producer for the worker: zero values keep the worker's defaults.
type Producer struct {
	BatchSize    int32            `json:"batchSize,omitempty"`
	BatchBytes   int64            `json:"batchBytes,omitempty"`
	Linger       *metav1.Duration `json:"linger,omitempty"` // nil: the default; 0 is a valid linger
	MaxAttempts  int32            `json:"maxAttempts,omitempty"`
	WriteTimeout metav1.Duration  `json:"writeTimeout,omitempty"`
}

// ProducerFrom is the plan's form of spec.target.producer; nil when the spec sets none.
func ProducerFrom(p *streamreplayv1alpha1.Producer) *Producer {
	if p == nil {
		return nil
	}
	out := &Producer{Linger: p.Linger}
	if p.BatchSize != nil {
		out.BatchSize = *p.BatchSize
	}
	if p.BatchBytes != nil {
		out.BatchBytes = *p.BatchBytes
	}
	if p.MaxAttempts != nil {
		out.MaxAttempts = *p.MaxAttempts
	}
	if p.WriteTimeout != nil {
		out.WriteTimeout = *p.WriteTimeout
	}
	return out
}
