package podrunner

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	// DefaultLabelSelector selects the pods the operator creates.
	DefaultLabelSelector = "app.kubernetes.io/managed-by=streamreplay-operator"
	// DefaultNodeName is the node the runner binds pods to and reports as theirs.
	DefaultNodeName = "podrunner"
	// DefaultShutdownGracePeriod bounds how long Run waits for processes after SIGTERM
	// when it returns.
	DefaultShutdownGracePeriod = 5 * time.Second
	// DefaultRetryPeriod is how often a pod that cannot start yet (a missing ConfigMap,
	// Secret or address) is tried again.
	DefaultRetryPeriod = time.Second
)

var (
	// DefaultAddressPool is where pod addresses come from: 127.0.2.1 to 127.0.2.254.
	DefaultAddressPool = netip.MustParsePrefix("127.0.2.0/24")
	// DefaultHostIP is the address reported as status.hostIP.
	DefaultHostIP = netip.MustParseAddr("127.0.0.1")
)

// ErrNoProcess is returned when a pod has no running process.
var ErrNoProcess = errors.New("no running process")

// Config configures a Runner. RESTConfig or Client, Binary and WorkDir are required.
type Config struct {
	// RESTConfig reaches the API server; a QPS of 0 becomes 100 (burst 200), because
	// client-go's default of 5 is too low for tens of pods.
	RESTConfig *rest.Config
	// Client is used instead of one built from RESTConfig when set.
	Client kubernetes.Interface
	// Namespaces to watch; all when empty.
	Namespaces []string
	// LabelSelector selects the pods to run; DefaultLabelSelector when empty.
	LabelSelector string
	// NodeName is this runner's node; DefaultNodeName when empty.
	NodeName string

	// Binary runs every container, whatever its image.
	Binary string
	// WorkDir holds a folder per pod (volumes, logs, termination messages) and the
	// claims' folders; created when missing.
	WorkDir string
	// Env is added to every process's environment before the pod's own variables
	// ("NAME=value", e.g. GOCOVERDIR for a binary built with -cover).
	Env []string

	// AddressPool gives each pod its own address; DefaultAddressPool when invalid. Its
	// first and, for IPv4, last address are not used.
	AddressPool netip.Prefix
	// HostIP is reported as status.hostIP; DefaultHostIP when invalid.
	HostIP netip.Addr

	// LogOutput, when set, also receives each line of every process's output, prefixed
	// with "namespace/pod " (and the container's name when the pod has several). Writes
	// are serialised.
	LogOutput io.Writer
	// Log is the runner's own log.
	Log logr.Logger
	// ShutdownGracePeriod caps the pods' grace periods when Run returns;
	// DefaultShutdownGracePeriod when 0.
	ShutdownGracePeriod time.Duration
	// RetryPeriod is how often a pod that cannot start yet is tried again;
	// DefaultRetryPeriod when 0.
	RetryPeriod time.Duration

	// Hooks let tests watch and adjust processes; all are optional.
	Hooks Hooks
}

// Hooks are called from the runner's goroutines: they must be safe for concurrent use
// and return quickly.
type Hooks struct {
	// BeforeStart may change a container's command before it starts (its Env, Args,
	// Dir); an error fails the container as a start error would.
	BeforeStart func(pod *corev1.Pod, container string, cmd *exec.Cmd) error
	// Started is called once a container's process runs.
	Started func(p Process)
	// Exited is called when a container's process has ended, before its status is written.
	Exited func(p Process, state corev1.ContainerStateTerminated)
}

// Process is one container's running process.
type Process struct {
	Namespace string
	Pod       string
	UID       types.UID
	Container string
	PID       int
	PodIP     netip.Addr
	StartedAt time.Time
	// Dir is the pod's folder; LogFile holds the container's output.
	Dir     string
	LogFile string
}

// New checks cfg and builds a Runner; Run starts it.
func New(cfg Config) (*Runner, error) {
	if err := cfg.resolvePaths(); err != nil {
		return nil, err
	}
	client, err := cfg.clientset()
	if err != nil {
		return nil, err
	}
	if cfg.LabelSelector == "" {
		cfg.LabelSelector = DefaultLabelSelector
	}
	selector, err := labels.Parse(cfg.LabelSelector)
	if err != nil {
		return nil, fmt.Errorf("podrunner: label selector: %w", err)
	}
	if cfg.NodeName == "" {
		cfg.NodeName = DefaultNodeName
	}
	if !cfg.AddressPool.IsValid() {
		cfg.AddressPool = DefaultAddressPool
	}
	pool, err := newAddressPool(cfg.AddressPool)
	if err != nil {
		return nil, fmt.Errorf("podrunner: %w", err)
	}
	if !cfg.HostIP.IsValid() {
		cfg.HostIP = DefaultHostIP
	}
	for _, kv := range cfg.Env {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			return nil, fmt.Errorf("podrunner: Env entry %q is not NAME=value", kv)
		}
	}
	if cfg.ShutdownGracePeriod <= 0 {
		cfg.ShutdownGracePeriod = DefaultShutdownGracePeriod
	}
	if cfg.RetryPeriod <= 0 {
		cfg.RetryPeriod = DefaultRetryPeriod
	}
	if cfg.Log.GetSink() == nil {
		cfg.Log = logr.Discard()
	}
	var out *syncWriter
	if cfg.LogOutput != nil {
		out = &syncWriter{w: cfg.LogOutput}
	}
	return &Runner{
		cfg:      cfg,
		client:   client,
		selector: selector,
		log:      cfg.Log,
		pool:     pool,
		out:      out,
		pods:     map[types.UID]*podWorker{},
		seen:     map[types.UID]struct{}{},
		removing: map[types.UID]struct{}{},
		dirs:     map[string]string{},
		procs:    map[procKey]*procEntry{},
	}, nil
}

// resolvePaths makes Binary and WorkDir absolute, checks that the binary is an executable
// file, and creates the work folder.
func (cfg *Config) resolvePaths() error {
	if cfg.Binary == "" {
		return errors.New("podrunner: Binary is required")
	}
	bin, err := filepath.Abs(cfg.Binary)
	if err != nil {
		return fmt.Errorf("podrunner: binary %s: %w", cfg.Binary, err)
	}
	if info, err := os.Stat(bin); err != nil {
		return fmt.Errorf("podrunner: binary: %w", err)
	} else if info.IsDir() || info.Mode()&0o111 == 0 {
		return fmt.Errorf("podrunner: binary %s is not an executable file", bin)
	}
	cfg.Binary = bin

	if cfg.WorkDir == "" {
		return errors.New("podrunner: WorkDir is required")
	}
	if cfg.WorkDir, err = filepath.Abs(cfg.WorkDir); err != nil {
		return fmt.Errorf("podrunner: work folder %s: %w", cfg.WorkDir, err)
	}
	// Local paths replace mount paths inside environment values such as JSON documents:
	// a quote or a backslash would need escaping there.
	if strings.ContainsFunc(cfg.WorkDir, func(r rune) bool { return r == '"' || r == '\\' || r < ' ' }) {
		return fmt.Errorf("podrunner: work folder %q has a quote, a backslash or a control character", cfg.WorkDir)
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o750); err != nil {
		return fmt.Errorf("podrunner: work folder: %w", err)
	}
	return nil
}

// clientset is cfg.Client, or one built from cfg.RESTConfig.
func (cfg *Config) clientset() (kubernetes.Interface, error) {
	if cfg.Client != nil {
		return cfg.Client, nil
	}
	if cfg.RESTConfig == nil {
		return nil, errors.New("podrunner: RESTConfig or Client is required")
	}
	rc := rest.CopyConfig(cfg.RESTConfig)
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 100, 200
	}
	rc.UserAgent = "streamreplay-podrunner"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("podrunner: client: %w", err)
	}
	return client, nil
}
