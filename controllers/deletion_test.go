package controllers

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// TestDeleteStopsTheCreationLoop: a LoadTest deleted while its pods are being created gets
// no more pods from that reconcile. The fake client deletes the LoadTest as the third pod
// is created, at a point no real API server could be timed to; the controller must notice
// before the fourth.
func TestDeleteStopsTheCreationLoop(t *testing.T) {
	lt := loadTest(testName).Workers(256).TargetRate(256_000).Obj()
	created := 0
	c := fakeCluster(t, lt).
		WithInterceptorFuncs(interceptor.Funcs{Create: func(ctx context.Context, w client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := w.Create(ctx, obj, opts...); err != nil {
				return err
			}
			if _, ok := obj.(*corev1.Pod); ok {
				created++
				if created == 3 {
					return w.Delete(ctx, &streamreplayv1alpha1.LoadTest{ObjectMeta: lt.ObjectMeta})
				}
			}
			return nil
		}}).
		Build()
	r := fakeReconciler(c, time.Now())
	if _, err := r.Reconcile(context.Background(), requestFor(lt)); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if created != 3 {
		t.Errorf("%d pods created, want 3: creation must stop once the LoadTest is deleted", created)
	}
	var pods corev1.PodList
	if err := c.List(context.Background(), &pods); err != nil {
		t.Fatal(err)
	}
	// Without a LoadTest, the next reconcile deletes what the loop created (the
	// garbage collector would too, later).
	if _, err := r.Reconcile(context.Background(), requestFor(lt)); err != nil {
		t.Fatalf("Reconcile after the delete: %v", err)
	}
	if err := c.List(context.Background(), &pods); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("%d pods left after the LoadTest was deleted", len(pods.Items))
	}
}
