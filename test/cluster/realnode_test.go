package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/streamreplay/streamreplay/internal/sandbox"
	"github.com/streamreplay/streamreplay/test/cluster/scenario"
)

// Images make test-cluster builds with hack/image and the node imports.
const (
	testkitImage  = "localhost/streamreplay-testkit:realnode"
	operatorImage = "localhost/streamreplay:realnode"
	// realNodeNamespace holds the scenarios' LoadTests, Kafka and pipelines.
	realNodeNamespace = "streamreplay-e2e"
	managerNamespace  = "streamreplay-system"
	managerDeployment = "streamreplay-controller-manager"
)

// realNode is the one-node cluster of hack/realnode with the operator installed from
// config/default (through test/cluster/config), and Kafka and the example pipelines as pods.
type realNode struct {
	kubeconfig string
	dir        string // REALNODE_DIR: containerd's socket, the kubelet's pod folders
	kafkaIP    string
}

func startRealNode() (*realNode, error) {
	b := &realNode{kubeconfig: os.Getenv("STREAMREPLAY_KUBECONFIG"), dir: os.Getenv("REALNODE_DIR")}
	if b.kubeconfig == "" || b.dir == "" {
		return nil, errors.New("STREAMREPLAY_KUBECONFIG and REALNODE_DIR must name the node's kubeconfig and folder: run `make test-cluster`")
	}
	if out, err := b.kubectl("get", "--raw", "/readyz"); err != nil {
		return nil, fmt.Errorf("the real node's API server does not answer (is the node up? make node-up): %w: %s", err, out)
	}
	begin := time.Now()
	// A cluster kept from an earlier run (KEEP=1) starts the scenarios afresh.
	if out, err := b.kubectl("delete", "namespace", realNodeNamespace, "--ignore-not-found", "--timeout=3m"); err != nil {
		return nil, fmt.Errorf("removing the scenarios' namespace of an earlier run: %w: %s", err, out)
	}
	// The operator, as config/default has it.
	if out, err := b.kubectl("apply", "--server-side", "-k", filepath.Join(scenario.RepoRoot, "test", "cluster", "config")); err != nil {
		return nil, fmt.Errorf("installing the operator from config/default: %w: %s", err, out)
	}
	manifest, err := kafkaManifest()
	if err != nil {
		return nil, err
	}
	if out, err := b.kubectlStdin(manifest, "apply", "-f", "-"); err != nil {
		return nil, fmt.Errorf("creating Kafka and the pipelines: %w: %s", err, out)
	}
	for _, d := range []struct{ ns, name string }{
		{managerNamespace, managerDeployment}, {realNodeNamespace, "kafka"},
		{realNodeNamespace, "pipeline-crm-enricher"}, {realNodeNamespace, "pipeline-crm-enricher-slow"},
	} {
		if out, err := b.kubectl("rollout", "status", "-n", d.ns, "deployment/"+d.name, "--timeout=3m"); err != nil {
			// A container that crashed says why in its previous log.
			logs, _ := b.kubectl("logs", "-n", d.ns, "deployment/"+d.name, "--previous", "--tail=20")
			return nil, fmt.Errorf("deployment %s/%s not available: %w: %s\n%s\nlast log of a crashed container:\n%s",
				d.ns, d.name, err, out, b.describe(d.ns), logs)
		}
	}
	ip, err := b.kubectl("get", "pods", "-n", realNodeNamespace, "-l", "app=kafka", "-o", "jsonpath={.items[0].status.podIP}")
	if err != nil || ip == "" {
		return nil, fmt.Errorf("the Kafka pod's address: %w: %s", err, ip)
	}
	b.kafkaIP = ip
	fmt.Printf("realnode: operator (config/default), Kafka %s:9092 and the example pipelines up in %s\n", ip, time.Since(begin).Round(100*time.Millisecond))
	return b, nil
}

// describe is what a failed setup shows: the namespace's pods and events.
func (b *realNode) describe(ns string) string {
	pods, _ := b.kubectl("get", "pods", "-n", ns, "-o", "wide")
	events, _ := b.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp")
	return pods + "\n" + events
}

func (b *realNode) kubectl(args ...string) (string, error) {
	return b.kubectlStdin("", args...)
}

func (b *realNode) kubectlStdin(stdin string, args ...string) (string, error) {
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+b.kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// stop leaves the cluster as it is: make test-cluster tears the node down (or keeps it with KEEP=1).
func (b *realNode) stop() {}

func (b *realNode) Name() string       { return "realnode" }
func (b *realNode) Kubeconfig() string { return b.kubeconfig }
func (b *realNode) Namespace() string  { return realNodeNamespace }

func (b *realNode) Kafka() scenario.Kafka {
	// Pods bootstrap through the Service and CoreDNS; kfake then advertises its pod
	// address, which this process (on the node) reaches over the bridge too.
	return scenario.Kafka{
		Bootstrap: []string{"kafka." + realNodeNamespace + ".svc:9092"},
		Dial:      []string{b.kafkaIP + ":9092"},
	}
}

func (b *realNode) SASLKafka(t *testing.T, user, password, topic string) scenario.Kafka {
	t.Helper()
	// The broker reads the credentials the way the workers do: files of a Secret volume.
	dir := t.TempDir()
	for name, value := range map[string]string{"username": user, "password": password} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := b.kubectl("create", "secret", "generic", "-n", realNodeNamespace, "kafka-sasl-server",
		"--from-file=username="+filepath.Join(dir, "username"), "--from-file=password="+filepath.Join(dir, "password")); err != nil {
		t.Fatalf("creating the SASL Kafka's Secret: %v: %s", err, out)
	}
	manifest, err := render(saslKafkaTemplate, map[string]any{"Namespace": realNodeNamespace, "Image": testkitImage, "Topic": topic})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := b.kubectlStdin(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the SASL Kafka: %v: %s", err, out)
	}
	t.Cleanup(func() {
		_, _ = b.kubectlStdin(manifest, "delete", "-f", "-", "--wait=false")
		_, _ = b.kubectl("delete", "secret", "-n", realNodeNamespace, "kafka-sasl-server")
	})
	if out, err := b.kubectl("rollout", "status", "-n", realNodeNamespace, "deployment/kafka-sasl", "--timeout=3m"); err != nil {
		t.Fatalf("the SASL Kafka is not available: %v: %s\n%s", err, out, b.describe(realNodeNamespace))
	}
	ip, err := b.kubectl("get", "pods", "-n", realNodeNamespace, "-l", "app=kafka-sasl", "-o", "jsonpath={.items[0].status.podIP}")
	if err != nil {
		t.Fatal(err)
	}
	return scenario.Kafka{Bootstrap: []string{"kafka-sasl." + realNodeNamespace + ".svc:9092"}, Dial: []string{ip + ":9092"}}
}

// containerID is the containerd id of a pod's container, from its status.
func (b *realNode) containerID(t *testing.T, pod, container string) string {
	t.Helper()
	out, err := b.kubectl("get", "pod", "-n", realNodeNamespace, pod, "-o",
		fmt.Sprintf(`jsonpath={.status.containerStatuses[?(@.name==%q)].containerID}`, container))
	id, found := strings.CutPrefix(strings.TrimSpace(out), "containerd://")
	if err != nil || !found {
		t.Fatalf("pod %s: no containerd id for container %s: %v: %s", pod, container, err, out)
	}
	return id
}

func (b *realNode) ctr(args ...string) (string, error) {
	cmd := exec.Command("ctr", append([]string{"--address", filepath.Join(b.dir, "run", "containerd.sock"), "--namespace", "k8s.io"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Signal signals the container's init process through containerd, as the OOM killer or a
// crash would end it.
func (b *realNode) Signal(t *testing.T, pod, container string, sig syscall.Signal) {
	t.Helper()
	id := b.containerID(t, pod, container)
	name := map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGSTOP: "SIGSTOP", syscall.SIGTERM: "SIGTERM"}[sig]
	out, err := b.ctr("tasks", "kill", "--signal", name, id)
	// The shim may answer a SIGKILL that ended the process at once with "already finished".
	if err != nil && (sig != syscall.SIGKILL || !strings.Contains(out, "process already finished")) {
		t.Fatalf("sending %s to container %s of pod %s: %v: %s", name, container, pod, err, out)
	}
}

// RestartManager deletes the manager's pod; the Deployment makes another, which must win
// the leader election and carry on.
func (b *realNode) RestartManager(t *testing.T) {
	t.Helper()
	selector := "control-plane=controller-manager"
	old, err := b.kubectl("get", "pods", "-n", managerNamespace, "-l", selector, "-o", "jsonpath={.items[*].metadata.name}")
	if err != nil || old == "" || strings.Contains(old, " ") {
		t.Fatalf("the manager's pod: %v: %q", err, old)
	}
	if out, err := b.kubectl("delete", "pod", "-n", managerNamespace, old, "--wait=false"); err != nil {
		t.Fatalf("deleting the manager's pod %s: %v: %s", old, err, out)
	}
	if wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		out, _ := b.kubectl("get", "pods", "-n", managerNamespace, "-l", selector, "-o",
			`jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		for line := range strings.Lines(out) {
			if name, ready, _ := strings.Cut(strings.TrimSpace(line), "="); name != old && ready == "True" {
				t.Logf("manager pod %s deleted; %s Ready", old, name)
				return true, nil
			}
		}
		return false, nil
	}) != nil {
		t.Fatalf("no new manager pod Ready 3 minutes after deleting %s:\n%s", old, b.describe(managerNamespace))
	}
}

// StopManager scales the operator's Deployment to 0 and waits until its pod is gone.
func (b *realNode) StopManager(t *testing.T) {
	t.Helper()
	if out, err := b.kubectl("scale", "-n", managerNamespace, "deployment/"+managerDeployment, "--replicas=0"); err != nil {
		t.Fatalf("scaling the operator to 0: %v: %s", err, out)
	}
	if out, err := b.kubectl("wait", "-n", managerNamespace, "--for=delete", "pod", "-l", "control-plane=controller-manager", "--timeout=2m"); err != nil {
		t.Fatalf("the operator's pod did not go: %v: %s", err, out)
	}
}

// StartManager scales the operator's Deployment back to 1 and waits until it is available.
func (b *realNode) StartManager(t *testing.T) {
	t.Helper()
	if out, err := b.kubectl("scale", "-n", managerNamespace, "deployment/"+managerDeployment, "--replicas=1"); err != nil {
		t.Fatalf("scaling the operator to 1: %v: %s", err, out)
	}
	if out, err := b.kubectl("rollout", "status", "-n", managerNamespace, "deployment/"+managerDeployment, "--timeout=3m"); err != nil {
		t.Fatalf("the operator is not available again: %v: %s", err, out)
	}
}

// Image is the operator's image, as test/cluster/config sets it.
func (b *realNode) Image() string { return operatorImage }

// Process reads the container's init process from /proc (its PID from containerd) and the
// mounted file from the kubelet's pod folder.
func (b *realNode) Process(t *testing.T, pod, container, volume, file string) scenario.Process {
	t.Helper()
	id := b.containerID(t, pod, container)
	out, err := b.ctr("tasks", "ls")
	if err != nil {
		t.Fatalf("ctr tasks ls: %v: %s", err, out)
	}
	pid := 0
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == id {
			pid, _ = strconv.Atoi(f[1])
		}
	}
	if pid == 0 {
		t.Fatalf("container %s of pod %s has no running task", container, pod)
	}
	p := processIDs(t, pid)
	uid, err := b.kubectl("get", "pod", "-n", realNodeNamespace, pod, "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		t.Fatal(err)
	}
	fileFacts(t, filepath.Join(b.dir, "kubelet", "pods", uid, "volumes", "kubernetes.io~secret", volume, file), &p)
	return p
}

func (b *realNode) Logs(t *testing.T, pod, container string) string {
	t.Helper()
	out, err := b.kubectl("logs", "-n", realNodeNamespace, pod, "-c", container)
	if err != nil {
		t.Fatalf("logs of pod %s: %v: %s", pod, err, out)
	}
	return out
}

// Models: the real node is the real thing.
func (b *realNode) Models(scenario.Difference) bool { return true }

// kafkaManifest is the scenarios' namespace (restricted), kfake with the sandbox's topics
// behind the Service kafka, and the sandbox's two example pipelines, all as Deployments of
// the test kit image. They request some CPU: a BestEffort pod gets 2 CPU shares of the
// node's 2048 (cgroup v1), and a broker starved by the machine's other work shows as
// latency. Only some: a LoadTest's pods request 500m each by default, and with the
// manager's 100m a two-worker run with an observer must still fit the node's 2 CPUs.
func kafkaManifest() (string, error) {
	var topics []string
	for _, p := range sandbox.Pipelines {
		topics = append(topics, p.InputTopic, p.OutputTopic, p.DLQTopic)
	}
	return render(kafkaTemplate, map[string]any{
		"Namespace": realNodeNamespace, "Image": testkitImage,
		"Topics": strings.Join(topics, ","), "Pipelines": sandbox.Pipelines,
	})
}

func render(text string, data any) (string, error) {
	var buf bytes.Buffer
	if err := template.Must(template.New("").Parse(text)).Execute(&buf, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// podSecurity meets the restricted Pod Security Standard, as the namespace enforces.
const podSecurity = `
      terminationGracePeriodSeconds: 5
      enableServiceLinks: false
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}`

const containerSecurity = `
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}`

const kafkaTemplate = `apiVersion: v1
kind: Namespace
metadata:
  name: {{.Namespace}}
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
---
apiVersion: v1
kind: Service
metadata: {name: kafka, namespace: {{.Namespace}}}
spec:
  selector: {app: kafka}
  ports: [{name: kafka, port: 9092, targetPort: 9092}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kafka, namespace: {{.Namespace}}}
spec:
  selector: {matchLabels: {app: kafka}}
  template:
    metadata: {labels: {app: kafka}}
    spec:` + podSecurity + `
      containers:
      - name: kafka
        image: {{.Image}}
        imagePullPolicy: Never
        args: [kafka, --port=9092, "--topics={{.Topics}}", --partitions=3]
        env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
        ports: [{name: kafka, containerPort: 9092}]
        readinessProbe: {tcpSocket: {port: kafka}, periodSeconds: 1}
        resources: {requests: {cpu: 150m, memory: 128Mi}}` + containerSecurity + `
{{range .Pipelines}}---
apiVersion: apps/v1
kind: Deployment
metadata: {name: pipeline-{{.Group}}, namespace: {{$.Namespace}}}
spec:
  selector: {matchLabels: {app: pipeline-{{.Group}}}}
  template:
    metadata: {labels: {app: pipeline-{{.Group}}}}
    spec:` + podSecurity + `
      containers:
      - name: pipeline
        image: {{$.Image}}
        imagePullPolicy: Never
        args: [pipeline, "--brokers=kafka.{{$.Namespace}}.svc:9092", "--input={{.InputTopic}}", "--output={{.OutputTopic}}", "--dlq={{.DLQTopic}}", "--group={{.Group}}", "--max-rate={{.MaxRate}}"]
        resources: {requests: {cpu: 50m, memory: 64Mi}}` + containerSecurity + `
{{end}}`

const saslKafkaTemplate = `apiVersion: v1
kind: Service
metadata: {name: kafka-sasl, namespace: {{.Namespace}}}
spec:
  selector: {app: kafka-sasl}
  ports: [{name: kafka, port: 9092, targetPort: 9092}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kafka-sasl, namespace: {{.Namespace}}}
spec:
  selector: {matchLabels: {app: kafka-sasl}}
  template:
    metadata: {labels: {app: kafka-sasl}}
    spec:` + podSecurity + `
        fsGroup: 65532
      volumes: [{name: credentials, secret: {secretName: kafka-sasl-server, defaultMode: 0440}}]
      containers:
      - name: kafka
        image: {{.Image}}
        imagePullPolicy: Never
        args: [kafka, --port=9092, "--topics={{.Topic}}", --partitions=3, --sasl-dir=/var/run/secrets/kafka]
        env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
        ports: [{name: kafka, containerPort: 9092}]
        volumeMounts: [{name: credentials, mountPath: /var/run/secrets/kafka, readOnly: true}]
        readinessProbe: {tcpSocket: {port: kafka}, periodSeconds: 1}
        resources: {requests: {cpu: 100m, memory: 64Mi}}` + containerSecurity + `
`

// TestPodNetworkStaysOnTheMachine runs a pod that reports what it can reach: routes to the
// pod and Service ranges only (no default route), cluster names resolve, every other name
// is NXDOMAIN from CoreDNS without asking a resolver off the machine, and an address off
// the machine is unreachable. hack/realnode/guards.sh checks the host's side after the run.
func TestPodNetworkStaysOnTheMachine(t *testing.T) {
	b, ok := backend.(*realNode)
	if !ok {
		t.Skip("only the real node gives pods a network of their own; the pod runner's pods are processes on the host's network")
	}
	manifest, err := render(netcheckTemplate, map[string]any{"Namespace": realNodeNamespace, "Image": testkitImage})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := b.kubectlStdin(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the netcheck pod: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = b.kubectl("delete", "pod", "-n", realNodeNamespace, "netcheck", "--wait=false") })
	if out, err := b.kubectl("wait", "-n", realNodeNamespace, "--for=jsonpath={.status.phase}=Succeeded", "pod/netcheck", "--timeout=2m"); err != nil {
		logs, _ := b.kubectl("logs", "-n", realNodeNamespace, "netcheck")
		t.Fatalf("the netcheck pod did not succeed: %v: %s\n%s", err, out, logs)
	}
	raw, err := b.kubectl("get", "pod", "-n", realNodeNamespace, "netcheck", "-o", "jsonpath={.status.containerStatuses[0].state.terminated.message}")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Routes        []string          `json:"routes"`
		DefaultRoute  bool              `json:"defaultRoute"`
		Resolved      map[string]string `json:"resolved"`
		OutsideDial   string            `json:"outsideDial"`
		ResolvConfDNS []string          `json:"resolvConfNameservers"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("netcheck's report %q: %v", raw, err)
	}
	t.Logf("pod routes %v; resolved %v; nameservers %v; dialling off the machine: %s", got.Routes, got.Resolved, got.ResolvConfDNS, got.OutsideDial)
	if got.DefaultRoute {
		t.Errorf("the pod has a default route: %v", got.Routes)
	}
	for _, r := range got.Routes {
		if !strings.Contains(r, "dst=10.88.0.0 ") && !strings.Contains(r, "dst=10.0.0.0 ") {
			t.Errorf("route %q leads out of the pod and Service ranges", r)
		}
	}
	if !slices.Equal(got.ResolvConfDNS, []string{"10.88.0.1"}) {
		t.Errorf("the pod's nameservers are %v, want the node's CoreDNS only", got.ResolvConfDNS)
	}
	for name, want := range map[string]string{
		"kubernetes.default.svc.cluster.local":              "10.0.0.1",
		"kafka." + realNodeNamespace + ".svc.cluster.local": "",
		"example.com": "NXDOMAIN",
	} {
		switch v, ok := got.Resolved[name]; {
		case !ok:
			t.Errorf("%s was not looked up", name)
		case want == "" && (strings.HasPrefix(v, "error") || v == "NXDOMAIN"):
			t.Errorf("%s: %s, want the Service's address", name, v)
		case want != "" && v != want:
			t.Errorf("%s resolves to %q, want %q", name, v, want)
		}
	}
	if !strings.Contains(got.OutsideDial, "network is unreachable") {
		t.Errorf("dialling an address off the machine: %q, want network is unreachable", got.OutsideDial)
	}
}

const netcheckTemplate = `apiVersion: v1
kind: Pod
metadata: {name: netcheck, namespace: {{.Namespace}}}
spec:
  restartPolicy: Never
  enableServiceLinks: false
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: netcheck
    image: {{.Image}}
    imagePullPolicy: Never
    args: [netcheck, "--resolve=kubernetes.default.svc.cluster.local,kafka.{{.Namespace}}.svc.cluster.local,example.com"]
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
`
