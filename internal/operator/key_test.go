package operator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/streamreplay/streamreplay/internal/control"
)

var (
	cfg *rest.Config
	k8s client.Client
)

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, which builds the envtest binaries and sets it")
		os.Exit(1)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
	}
	var err error
	if cfg, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		os.Exit(1)
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: NewScheme()}); err == nil {
		err = k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "streamreplay-system"}})
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
	}
	os.Exit(code)
}

// The key is created once, kept in its Secret, and the same after a restart, also when
// several replicas start at once.
func TestControlKeySurvivesRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	secret := types.NamespacedName{Namespace: "streamreplay-system", Name: "key-restarts"}
	keys := make([]control.Key, 4)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKey(ctx, cfg, secret) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if string(keys[i]) != string(keys[0]) || len(keys[i]) != control.KeySize {
			t.Errorf("replica %d got another key, or one of %d bytes", i, len(keys[i]))
		}
	}
	var s corev1.Secret
	if err := k8s.Get(ctx, secret, &s); err != nil {
		t.Fatal(err)
	}
	if string(s.Data[ControlKeyName]) != string(keys[0]) || s.Immutable == nil || !*s.Immutable {
		t.Errorf("Secret %s: immutable %v, holds the key %v", secret, s.Immutable, string(s.Data[ControlKeyName]) == string(keys[0]))
	}
	again, err := LoadOrCreateKey(ctx, cfg, secret)
	if err != nil || string(again) != string(keys[0]) {
		t.Errorf("after a restart: same key %v, %v", string(again) == string(keys[0]), err)
	}
}

func TestControlKeyErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	short := types.NamespacedName{Namespace: "streamreplay-system", Name: "key-short"}
	if err := k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: short.Name, Namespace: short.Namespace},
		Data:       map[string][]byte{ControlKeyName: []byte("too-short")},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		secret types.NamespacedName
		want   string
	}{
		{short, "streamreplay-system/key-short, key \"key\": the control key has 9 bytes, want at least 32"},
		{types.NamespacedName{Namespace: "no-such-namespace", Name: "k"}, "creating the control key's Secret no-such-namespace/k"},
		{types.NamespacedName{Name: "k"}, "has no namespace"},
	} {
		_, err := LoadOrCreateKey(ctx, cfg, tc.secret)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadOrCreateKey(%s) = %v, want an error saying %q", tc.secret, err, tc.want)
		}
	}
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "control key has 0 bytes") {
		t.Errorf("New without a control key = %v, want it refused", err)
	}
}
