package podrunner

import (
	"context"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
)

// configError is a problem with the pod's references that may go away (a ConfigMap not
// created yet): the kubelet reports it as CreateContainerConfigError and tries again.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// objects reads the ConfigMaps and Secrets a pod refers to, each once per attempt.
type objects struct {
	client     kubernetes.Interface
	namespace  string
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func newObjects(client kubernetes.Interface, namespace string) *objects {
	return &objects{client: client, namespace: namespace, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
}

// configMap is nil without error when the ConfigMap does not exist.
func (o *objects) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if cm, ok := o.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := o.client.CoreV1().ConfigMaps(o.namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm = nil
	case err != nil:
		return nil, fmt.Errorf("reading configmap %q: %w", name, err)
	}
	o.configMaps[name] = cm
	return cm, nil
}

// secret is nil without error when the Secret does not exist.
func (o *objects) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	if s, ok := o.secrets[name]; ok {
		return s, nil
	}
	s, err := o.client.CoreV1().Secrets(o.namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		s = nil
	case err != nil:
		return nil, fmt.Errorf("reading secret %q: %w", name, err)
	}
	o.secrets[name] = s
	return s, nil
}

// envList is an environment in definition order where a later definition replaces an
// earlier one, as the kubelet builds it.
type envList struct {
	names  []string
	values map[string]string
}

func (e *envList) set(name, value string) {
	if e.values == nil {
		e.values = map[string]string{}
	}
	if _, ok := e.values[name]; !ok {
		e.names = append(e.names, name)
	}
	e.values[name] = value
}

func (e *envList) lookup(name string) (string, bool) {
	v, ok := e.values[name]
	return v, ok
}

// podFields are the downward-API values of a pod.
type podFields struct {
	pod    *corev1.Pod
	podIP  string
	hostIP string
	node   string
}

func (f *podFields) value(fieldPath string) (string, error) {
	if key, ok := subscript(fieldPath, "metadata.labels"); ok {
		return f.pod.Labels[key], nil
	}
	if key, ok := subscript(fieldPath, "metadata.annotations"); ok {
		return f.pod.Annotations[key], nil
	}
	switch fieldPath {
	case "metadata.name":
		return f.pod.Name, nil
	case "metadata.namespace":
		return f.pod.Namespace, nil
	case "metadata.uid":
		return string(f.pod.UID), nil
	case "spec.nodeName":
		return f.node, nil
	case "spec.serviceAccountName":
		return f.pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return f.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return f.hostIP, nil
	}
	return "", fmt.Errorf("fieldRef %q is not supported", fieldPath)
}

// subscript reads key from `prefix['key']`.
func subscript(fieldPath, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(fieldPath, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// resolveEnv builds a container's environment from its envFrom and env, as the kubelet
// does: envFrom first, then env, each value expanded with the variables defined before it.
func resolveEnv(ctx context.Context, c *corev1.Container, fields *podFields, objs *objects) (*envList, error) {
	env := &envList{}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			ref := from.ConfigMapRef
			cm, err := objs.configMap(ctx, ref.Name)
			if err != nil {
				return nil, err
			}
			if cm == nil {
				if ref.Optional != nil && *ref.Optional {
					continue
				}
				return nil, configErrorf("configmap %q not found", ref.Name)
			}
			data = cm.Data
		case from.SecretRef != nil:
			ref := from.SecretRef
			s, err := objs.secret(ctx, ref.Name)
			if err != nil {
				return nil, err
			}
			if s == nil {
				if ref.Optional != nil && *ref.Optional {
					continue
				}
				return nil, configErrorf("secret %q not found", ref.Name)
			}
			data = make(map[string]string, len(s.Data))
			for k, v := range s.Data {
				data[k] = string(v)
			}
		default:
			return nil, fmt.Errorf("container %s: an envFrom source is neither a ConfigMap nor a Secret", c.Name)
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// The kubelet skips keys that are not valid variable names (with an event).
			if name := from.Prefix + k; len(validation.IsEnvVarName(name)) == 0 {
				env.set(name, data[k])
			}
		}
	}

	for _, v := range c.Env {
		if v.ValueFrom == nil {
			env.set(v.Name, expand(v.Value, env.lookup))
			continue
		}
		value, skip, err := valueFrom(ctx, v.ValueFrom, fields, objs)
		if err != nil {
			return nil, err
		}
		if !skip {
			env.set(v.Name, value)
		}
	}
	return env, nil
}

// valueFrom resolves one variable's source; skip is true for a missing optional key.
func valueFrom(ctx context.Context, src *corev1.EnvVarSource, fields *podFields, objs *objects) (value string, skip bool, err error) {
	switch {
	case src.FieldRef != nil:
		value, err = fields.value(src.FieldRef.FieldPath)
		return value, false, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := objs.configMap(ctx, ref.Name)
		if err != nil {
			return "", false, err
		}
		if cm == nil {
			if optional {
				return "", true, nil
			}
			return "", false, configErrorf("configmap %q not found", ref.Name)
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, false, nil
		}
		if v, ok := cm.BinaryData[ref.Key]; ok {
			return string(v), false, nil
		}
		if optional {
			return "", true, nil
		}
		return "", false, configErrorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, objs.namespace, ref.Name)
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := objs.secret(ctx, ref.Name)
		if err != nil {
			return "", false, err
		}
		if s == nil {
			if optional {
				return "", true, nil
			}
			return "", false, configErrorf("secret %q not found", ref.Name)
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), false, nil
		}
		if optional {
			return "", true, nil
		}
		return "", false, configErrorf("couldn't find key %s in Secret %s/%s", ref.Key, objs.namespace, ref.Name)
	case src.ResourceFieldRef != nil:
		return "", false, fmt.Errorf("resourceFieldRef %q is not supported by the local pod runner", src.ResourceFieldRef.Resource)
	}
	return "", false, fmt.Errorf("an environment variable source is not supported by the local pod runner")
}

// expand replaces $(NAME) with NAME's value when lookup knows it and leaves it as is
// otherwise; $$ is a literal $. These are the rules of Kubernetes' env, command and args.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch next := s[i+1]; next {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// mount is where a volume appears in the container (path) and on this machine (local).
type mount struct {
	path  string
	local string
}

// mounts rewrites container paths into local ones; it is how the runner "mounts".
type mounts []mount

func newMounts(ms []mount) mounts {
	out := make(mounts, 0, len(ms))
	for _, m := range ms {
		m.path = path.Clean(m.path)
		// Rewriting "/" would rewrite every absolute path.
		if m.path == "/" || !path.IsAbs(m.path) {
			continue
		}
		out = append(out, m)
	}
	// The longest path first, so a mount inside another mount wins.
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].path) > len(out[j].path) })
	return out
}

// rewrite replaces each mount path in s that stands as a whole path prefix (not part of
// a longer name: "/tmp" but not "/tmpx" nor "/var/tmp") by its local folder.
func (ms mounts) rewrite(s string) string {
	if len(ms) == 0 || !strings.Contains(s, "/") {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '/' || (i > 0 && isNameByte(s[i-1])) {
			continue
		}
		for _, m := range ms {
			end := i + len(m.path)
			if !strings.HasPrefix(s[i:], m.path) || (end < len(s) && isNameByte(s[end])) {
				continue
			}
			b.WriteString(s[last:i])
			b.WriteString(m.local)
			last = end
			i = end - 1
			break
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isNameByte tells whether c can be part of a file name next to a path (a '/' after a
// path is a separator, so it is not).
func isNameByte(c byte) bool {
	return c == '.' || c == '_' || c == '-' || c == '~' ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// hostEnv is what the host gives every process: PATH and HOME only, so the host
// environment does not leak into the pods.
func hostEnv() []string {
	var out []string
	for _, name := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(name); ok {
			out = append(out, name+"="+v)
		}
	}
	return out
}
