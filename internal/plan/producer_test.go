package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

func TestProducerFrom(t *testing.T) {
	for name, tc := range map[string]struct {
		in   *streamreplayv1alpha1.Producer
		want *Producer
	}{
		"unset": {in: nil, want: nil},
		"empty": {in: &streamreplayv1alpha1.Producer{}, want: &Producer{}},
		"every field": {
			in: &streamreplayv1alpha1.Producer{
				BatchSize: ptr.To[int32](500), BatchBytes: ptr.To[int64](65536), Linger: &metav1.Duration{Duration: 0},
				MaxAttempts: ptr.To[int32](3), WriteTimeout: &metav1.Duration{Duration: 2 * time.Second},
			},
			want: &Producer{
				BatchSize: 500, BatchBytes: 65536, Linger: &metav1.Duration{Duration: 0},
				MaxAttempts: 3, WriteTimeout: metav1.Duration{Duration: 2 * time.Second},
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ProducerFrom(tc.in)); diff != "" {
				t.Errorf("ProducerFrom mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
