package podrunner

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// The API server, the runner and the fake pod binary are shared by every test; each test
// works in its own namespace.
var (
	kube    kubernetes.Interface
	runner  *Runner
	workDir string
	exits   = &exitRecorder{byPod: map[string][]corev1.ContainerStateTerminated{}}
)

// testAddressPool keeps the tests' pods away from the sandbox's default pool.
var testAddressPool = netip.MustParsePrefix("127.0.42.0/24")

// hostOnlyVariable is set in the test process and must not reach the pods.
const hostOnlyVariable = "PODRUNNER_TEST_HOST_ONLY"

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, which builds the envtest binaries and sets it, "+
			"or export KUBEBUILDER_ASSETS=$(bash hack/envtest-binaries.sh)")
		return 1
	}
	log := logr.Discard()
	if os.Getenv("STREAMREPLAY_TEST_VERBOSE") != "" {
		log = zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(zapcore.Level(-2)))
	}
	logf.SetLogger(log)

	tmp, err := os.MkdirTemp("", "podrunner-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating a temporary folder:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	fakepod := filepath.Join(tmp, "fakepod")
	build := exec.Command("go", "build", "-o", fakepod, "./testdata/fakepod")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building testdata/fakepod:", err)
		return 1
	}

	env := &envtest.Environment{ControlPlaneStartTimeout: 2 * time.Minute, ControlPlaneStopTimeout: time.Minute}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	if kube, err = kubernetes.NewForConfig(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "creating a client:", err)
		return 1
	}

	if err := os.Setenv(hostOnlyVariable, "leaked"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	workDir = filepath.Join(tmp, "work")
	var output io.Writer
	if os.Getenv("STREAMREPLAY_TEST_VERBOSE") != "" {
		output = os.Stderr
	}
	runner, err = New(Config{
		RESTConfig:  cfg,
		Binary:      fakepod,
		WorkDir:     workDir,
		AddressPool: testAddressPool,
		LogOutput:   output,
		Log:         log.WithName("podrunner"),
		RetryPeriod: 200 * time.Millisecond,
		Hooks:       Hooks{Exited: exits.record},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()

	code := m.Run()

	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "the runner failed:", err)
		code = 1
	}
	if left := runner.Processes(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "processes left after Run returned: %+v\n", left)
		code = 1
	}
	return code
}

// exitRecorder keeps the terminated states the Exited hook saw, by "namespace/pod".
type exitRecorder struct {
	mu    sync.Mutex
	byPod map[string][]corev1.ContainerStateTerminated
}

func (e *exitRecorder) record(p Process, st corev1.ContainerStateTerminated) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := p.Namespace + "/" + p.Pod
	e.byPod[key] = append(e.byPod[key], st)
}

func (e *exitRecorder) get(namespace, pod string) []corev1.ContainerStateTerminated {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]corev1.ContainerStateTerminated(nil), e.byPod[namespace+"/"+pod]...)
}
