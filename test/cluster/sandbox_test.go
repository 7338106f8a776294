package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/go-logr/zapr"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/streamreplay/streamreplay/internal/sandbox"
	"github.com/streamreplay/streamreplay/test/cluster/scenario"
)

// sandboxBackend is envtest's API server, the operator in this process and the local pod
// runner playing the kubelet, as in make demo and test/e2e.
type sandboxBackend struct {
	sbx     *sandbox.Sandbox
	work    string
	stopped bool // the operator, by StopManager
}

func startSandbox() (*sandboxBackend, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make test-cluster-sandbox`")
	}
	work, err := os.MkdirTemp("", "streamreplay-cluster-sandbox-")
	if err != nil {
		return nil, err
	}
	binary := filepath.Join(work, "streamreplay")
	build := exec.Command("go", "build", "-o", binary, scenario.RepoRoot)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the binary: %w", err)
	}
	logFile, err := os.Create(filepath.Join(work, "sandbox.log"))
	if err != nil {
		return nil, err
	}
	log := zapr.NewLogger(zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logFile), zapcore.InfoLevel)))
	ctrl.SetLogger(log)
	// Any free Kafka port and an address pool of its own: test/e2e or make demo may run alongside.
	sbx, err := sandbox.Start(context.Background(), sandbox.Options{
		RepoRoot: scenario.RepoRoot, Binary: binary, WorkDir: work, Log: log,
		KafkaPort: -1, AddressPool: netip.MustParsePrefix("127.0.5.0/24"),
	})
	if err != nil {
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	b := &sandboxBackend{sbx: sbx, work: work}
	// As on the real node, the scenarios' namespace enforces the restricted standard.
	if out, err := b.kubectl("label", "namespace", sandbox.Namespace, "--overwrite",
		"pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/enforce-version=latest"); err != nil {
		sbx.Stop()
		return nil, fmt.Errorf("labelling namespace %s: %w: %s", sandbox.Namespace, err, out)
	}
	fmt.Printf("sandbox up: API server, operator, pod runner, Kafka %s; work folder %s\n", strings.Join(sbx.Brokers, ","), work)
	return b, nil
}

func (b *sandboxBackend) kubectl(args ...string) (string, error) {
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+b.sbx.Kubeconfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (b *sandboxBackend) stop() {
	b.sbx.Stop()
	_ = os.RemoveAll(b.work)
}

func (b *sandboxBackend) Name() string       { return "sandbox" }
func (b *sandboxBackend) Kubeconfig() string { return b.sbx.Kubeconfig }
func (b *sandboxBackend) Namespace() string  { return sandbox.Namespace }

func (b *sandboxBackend) Kafka() scenario.Kafka {
	return scenario.Kafka{Bootstrap: b.sbx.Brokers, Dial: b.sbx.Brokers}
}

func (b *sandboxBackend) SASLKafka(t *testing.T, user, password, topic string) scenario.Kafka {
	t.Helper()
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(0),
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", user, password),
		kfake.SeedTopics(3, topic),
	)
	if err != nil {
		t.Fatalf("starting the SASL Kafka: %v", err)
	}
	t.Cleanup(cluster.Close)
	return scenario.Kafka{Bootstrap: cluster.ListenAddrs(), Dial: cluster.ListenAddrs()}
}

func (b *sandboxBackend) Signal(t *testing.T, pod, _ string, sig syscall.Signal) {
	t.Helper()
	if err := b.sbx.Runner().KillProcess(sandbox.Namespace, pod, sig); err != nil {
		t.Fatalf("sending %s to pod %s: %v", sig, pod, err)
	}
}

func (b *sandboxBackend) RestartManager(t *testing.T) {
	t.Helper()
	if err := b.sbx.StopManager(); err != nil {
		t.Fatal(err)
	}
	if err := b.sbx.StartManager(); err != nil {
		t.Fatal(err)
	}
}

func (b *sandboxBackend) StopManager(t *testing.T) {
	t.Helper()
	if err := b.sbx.StopManager(); err != nil {
		t.Fatal(err)
	}
	b.stopped = true
}

func (b *sandboxBackend) StartManager(t *testing.T) {
	t.Helper()
	if !b.stopped {
		return
	}
	if err := b.sbx.StartManager(); err != nil {
		t.Fatal(err)
	}
	b.stopped = false
}

// Image is what the sandbox's operator gives its pods; the pod runner runs its own binary whatever the image.
func (b *sandboxBackend) Image() string { return "streamreplay:sandbox" }

func (b *sandboxBackend) Process(t *testing.T, pod, container, volume, file string) scenario.Process {
	t.Helper()
	for _, p := range b.sbx.Runner().Processes() {
		if p.Namespace == sandbox.Namespace && p.Pod == pod && p.Container == container {
			out := processIDs(t, p.PID)
			fileFacts(t, filepath.Join(p.Dir, "volumes", volume, file), &out)
			return out
		}
	}
	t.Fatalf("pod %s has no running process of container %s", pod, container)
	return scenario.Process{}
}

func (b *sandboxBackend) Logs(t *testing.T, pod, container string) string {
	t.Helper()
	path, err := b.sbx.Runner().LogFile(sandbox.Namespace, pod, container)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Models: the sandbox has no garbage collector, runs pods as its own user and runs the
// operator in its own process (docs/design.md, "The real node").
func (b *sandboxBackend) Models(scenario.Difference) bool { return false }

// processIDs reads a process's real user, group and supplementary groups from /proc.
func processIDs(t *testing.T, pid int) scenario.Process {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	defer func() { _ = f.Close() }()
	var p scenario.Process
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, value, _ := strings.Cut(s.Text(), ":")
		fields := strings.Fields(value)
		switch {
		case key == "Uid" && len(fields) > 0:
			p.UID, _ = strconv.Atoi(fields[0])
		case key == "Gid" && len(fields) > 0:
			p.GID, _ = strconv.Atoi(fields[0])
		case key == "Groups":
			for _, g := range fields {
				n, _ := strconv.Atoi(g)
				p.Groups = append(p.Groups, n)
			}
		}
	}
	return p
}

// fileFacts reads a file's mode, owner and content, following symlinks as a reader does.
func fileFacts(t *testing.T, path string, p *scenario.Process) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("%s: no owner", path)
	}
	p.FileMode, p.FileUID, p.FileGID = uint32(info.Mode().Perm()), int(st.Uid), int(st.Gid)
	if p.FileBytes, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
}
