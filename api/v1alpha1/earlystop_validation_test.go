package v1alpha1_test

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
)

// TestEarlyStopValidation: spec.earlyStop gets its default window, refuses a window out of
// its bounds, and cannot be added, removed or changed once the LoadTest exists.
func TestEarlyStopValidation(t *testing.T) {
	ctx := testContext(t)
	for _, tc := range []struct {
		name   string
		window time.Duration
	}{{"window under 4s", 2 * time.Second}, {"window over 10m", 11 * time.Minute}} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			lt := base("early-stop-bad")
			lt.Spec.EarlyStop = &v1alpha1.EarlyStop{Window: duration(tc.window)}
			expectInvalid(t, k8sClient.Create(ctx, lt), "spec.earlyStop.window", "between 4s and 10m")
		})
	}

	lt := base("early-stop")
	lt.Spec.EarlyStop = &v1alpha1.EarlyStop{}
	if err := k8sClient.Create(ctx, lt); err != nil {
		t.Fatalf("creating a LoadTest with earlyStop: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), lt) })
	if w := lt.Spec.EarlyStop.Window; w == nil || w.Duration != 10*time.Second {
		t.Errorf("earlyStop.window = %v, want the default 10s", w)
	}
	update := func(change func(*v1alpha1.LoadTest)) error {
		cur := &v1alpha1.LoadTest{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(lt), cur); err != nil {
			t.Fatal(err)
		}
		change(cur)
		return k8sClient.Update(ctx, cur)
	}
	expectInvalid(t, update(func(lt *v1alpha1.LoadTest) { lt.Spec.EarlyStop.Window = duration(time.Minute) }), "earlyStop is immutable")
	expectInvalid(t, update(func(lt *v1alpha1.LoadTest) { lt.Spec.EarlyStop = nil }), "earlyStop is immutable")

	plain := base("early-stop-added")
	if err := k8sClient.Create(ctx, plain); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), plain) })
	cur := &v1alpha1.LoadTest{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(plain), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.EarlyStop = &v1alpha1.EarlyStop{}
	expectInvalid(t, k8sClient.Update(ctx, cur), "earlyStop is immutable")
}
