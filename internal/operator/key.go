package operator

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/control"
)

// ControlKeyName is the key of the control key's Secret that holds the key.
const ControlKeyName = "key"

// LoadOrCreateKey reads the operator's control key from its Secret, creating the Secret
// with a new random key when there is none, so that the key survives a restart of the
// manager and runs started before it can still be stopped. It reads that one Secret by
// name, without a cache, so the manager needs `get` on it only (RBAC resourceNames), not
// list or watch on Secrets.
func LoadOrCreateKey(ctx context.Context, cfg *rest.Config, secret types.NamespacedName) (control.Key, error) {
	if secret.Namespace == "" || secret.Name == "" {
		return nil, fmt.Errorf("the control key's Secret %q has no namespace or no name", secret.String())
	}
	c, err := client.New(cfg, client.Options{Scheme: NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	log := logf.FromContext(ctx).WithValues("secret", secret.String())
	for range 2 {
		var s corev1.Secret
		err := c.Get(ctx, secret, &s)
		if err == nil {
			key := control.Key(s.Data[ControlKeyName])
			if err := key.Validate(); err != nil {
				return nil, fmt.Errorf("control key Secret %s, key %q: %w", secret, ControlKeyName, err)
			}
			return key, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading the control key's Secret %s: %w", secret, err)
		}
		key, err := control.NewKey()
		if err != nil {
			return nil, err
		}
		s = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: secret.Name, Namespace: secret.Namespace,
				Labels: map[string]string{controllers.LabelName: "streamreplay", controllers.LabelManagedBy: controllers.ManagerName, controllers.LabelComponent: "control-key"},
			},
			Type:      corev1.SecretTypeOpaque,
			Immutable: ptr.To(true),
			Data:      map[string][]byte{ControlKeyName: key},
		}
		err = c.Create(ctx, &s)
		if err == nil {
			log.Info("Created the control key's Secret")
			return key, nil
		}
		// Another replica created it first: read theirs.
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating the control key's Secret %s: %w", secret, err)
		}
	}
	return nil, fmt.Errorf("the control key's Secret %s was created and deleted while being read", secret)
}
