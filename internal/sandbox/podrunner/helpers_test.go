package podrunner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/streamreplay/streamreplay/internal/plan"
)

const waitTimeout = 20 * time.Second

var namespaceSeq atomic.Int32

func newNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("podrunner-%d", namespaceSeq.Add(1))
	if _, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// fakePod is a pod as the operator makes them, reduced: one container with the control
// port and a quick readiness probe, the fake binary steered by env.
func fakePod(namespace, name string, env ...corev1.EnvVar) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Labels:    map[string]string{"app.kubernetes.io/managed-by": "streamreplay-operator"},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []corev1.Container{{
				Name:  "main",
				Image: "fake:test",
				Args:  []string{"worker"},
				Env:   env,
				Ports: []corev1.ContainerPort{{Name: plan.ControlPortName, ContainerPort: plan.ControlPort}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/readyz", Port: intstr.FromString(plan.ControlPortName),
					}},
					PeriodSeconds:    1,
					FailureThreshold: 1,
				},
			}},
		},
	}
}

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func createPod(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	created, err := kube.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s: %v", pod.Name, err)
	}
	return created
}

// waitPod polls the pod until cond holds, and fails with the pod's status otherwise.
func waitPod(t *testing.T, namespace, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	if wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
		pod, err := kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("reading pod %s: %v", name, err)
		}
		if err == nil {
			last = pod
		}
		return err == nil && cond(pod), nil
	}) == nil {
		return last
	}
	status := "(no pod)"
	if last != nil {
		b, _ := yaml.Marshal(last.Status)
		status = string(b)
	}
	t.Fatalf("pod %s/%s: timed out waiting for %s; status:\n%s", namespace, name, what, status)
	return nil
}

func waitGone(t *testing.T, namespace, name string) {
	t.Helper()
	if wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}) != nil {
		t.Fatalf("pod %s/%s is still there after %s", namespace, name, waitTimeout)
	}
}

func deletePod(t *testing.T, namespace, name string, grace *int64) {
	t.Helper()
	if err := kube.CoreV1().Pods(namespace).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: grace}); err != nil {
		t.Fatalf("deleting pod %s: %v", name, err)
	}
}

func isRunning(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }
func isFailed(p *corev1.Pod) bool  { return p.Status.Phase == corev1.PodFailed }

func isReady(p *corev1.Pod) bool { return conditionStatus(p, corev1.PodReady) == corev1.ConditionTrue }

func conditionStatus(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

// terminated is the first container's terminated state, nil while it runs.
func terminated(p *corev1.Pod) *corev1.ContainerStateTerminated {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return p.Status.ContainerStatuses[0].State.Terminated
}

func isTerminated(p *corev1.Pod) bool { return terminated(p) != nil }

// call sends an HTTP request to the pod's control port, as the operator does.
func call(t *testing.T, pod *corev1.Pod, method, path string) []byte {
	t.Helper()
	url := "http://" + net.JoinHostPort(pod.Status.PodIP, "9400") + path
	req, err := http.NewRequestWithContext(context.Background(), method, url, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d, %v: %s", method, url, resp.StatusCode, err, body)
	}
	return body
}

// fakeInfo is what the fake pod's GET /info tells about its process.
type fakeInfo struct {
	Args  []string `json:"args"`
	Env   []string `json:"env"`
	Dir   string   `json:"dir"`
	Files map[string]struct {
		Content []byte `json:"content"`
		Mode    string `json:"mode"`
		Error   string `json:"error"`
	} `json:"files"`
}

func (f *fakeInfo) env() map[string]string {
	out := map[string]string{}
	for _, kv := range f.Env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func podInfo(t *testing.T, pod *corev1.Pod) *fakeInfo {
	t.Helper()
	var info fakeInfo
	if err := json.Unmarshal(call(t, pod, http.MethodGet, "/info"), &info); err != nil {
		t.Fatalf("decoding /info: %v", err)
	}
	return &info
}
