package plugin

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/capacity"
)

// probesOf reads a Capacity search's probes from the results ConfigMap; nil for other
// runs, or before the first probe ended.
func probesOf(ctx context.Context, c client.Client, lt *streamreplayv1alpha1.LoadTest) ([]capacity.Record, error) {
	if lt.Spec.Capacity == nil {
		return nil, nil
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: lt.Namespace, Name: controllers.ResultsConfigMapName(lt)}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the probes of loadtest %s: %w", lt.Name, err)
	}
	records, err := capacity.DecodeRecords(cm.Data[controllers.ResultsKeyProbes])
	if err != nil {
		return nil, fmt.Errorf("loadtest %s: %w", lt.Name, err)
	}
	return records, nil
}
