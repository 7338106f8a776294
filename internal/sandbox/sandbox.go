// Package sandbox runs the whole system on one machine: a real kube-apiserver and etcd
// (envtest), the operator, a local pod runner that plays the kubelet, an embedded Kafka
// (kfake) and the example pipeline under test. `streamreplay-sandbox` (make demo) and the
// end-to-end tests use it. Nothing in the product depends on it.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/twmb/franz-go/pkg/kfake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/internal/sandbox/pipeline"
	"github.com/streamreplay/streamreplay/internal/sandbox/podrunner"
)

// KafkaPort is where the embedded Kafka listens, on 127.0.0.1, so that the shipped
// sandbox manifests can name it.
const KafkaPort = 39092

// Namespace is where the sandbox's LoadTests run.
const Namespace = "default"

// OperatorNamespace is the operator's own namespace, where it keeps its control key, as
// config/default installs it.
const OperatorNamespace = "streamreplay-system"

// ControlKeySecret is the Secret of the operator's control key.
var ControlKeySecret = types.NamespacedName{Namespace: OperatorNamespace, Name: "streamreplay-control-key"}

// SlowPipelineRate caps the slow pipeline, in records per second, well below the demo's 1,000.
const SlowPipelineRate = 300

// Pipelines the sandbox runs: one that keeps up and one capped at SlowPipelineRate. Their
// topics are those of config/sandbox/crm-cdc-demo.yaml and crm-cdc-demo-slow.yaml.
var Pipelines = []pipeline.Config{
	{InputTopic: "crm.cdc", OutputTopic: "crm.cdc.enriched", DLQTopic: "crm.cdc.dlq", Group: "crm-enricher"},
	{InputTopic: "crm.cdc.slow", OutputTopic: "crm.cdc.slow.enriched", DLQTopic: "crm.cdc.slow.dlq", Group: "crm-enricher-slow", MaxRate: SlowPipelineRate},
}

// Options configure a sandbox.
type Options struct {
	// RepoRoot holds config/ (the CRD and the manifests).
	RepoRoot string
	// Binary is the streamreplay binary the pod runner runs for every container.
	Binary string
	// WorkDir holds the pods' folders and logs, and the kubeconfig.
	WorkDir string
	// KafkaPort overrides KafkaPort; -1 lets Kafka pick a free port (tests; see Brokers).
	KafkaPort int
	// AddressPool gives each pod its own loopback address.
	AddressPool netip.Prefix
	// PodOutput receives the pods' log lines; nil keeps them in files only.
	PodOutput io.Writer
	// Log is the sandbox's own log (operator, pod runner, pipelines).
	Log logr.Logger
}

// Sandbox is the running system.
type Sandbox struct {
	opts       Options
	env        *envtest.Environment
	kafka      *kfake.Cluster
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	runner     *podrunner.Runner
	Config     *rest.Config
	Client     client.Client
	Kubeconfig string
	Brokers    []string

	mu         sync.Mutex
	stopMgr    context.CancelFunc
	managerErr chan error
}

// Start brings every part up; Stop takes them down. The envtest binaries come from
// $KUBEBUILDER_ASSETS (hack/envtest-binaries.sh builds them).
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make demo`, or export KUBEBUILDER_ASSETS=$(bash hack/envtest-binaries.sh)")
	}
	if opts.KafkaPort == 0 {
		opts.KafkaPort = KafkaPort
	}
	if !opts.AddressPool.IsValid() {
		opts.AddressPool = netip.MustParsePrefix("127.0.3.0/24")
	}
	if err := os.MkdirAll(opts.WorkDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating work folder: %w", err)
	}
	s := &Sandbox{opts: opts}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if err := s.start(runCtx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Sandbox) start(ctx context.Context) error {
	log := s.opts.Log
	log.Info("Starting the control plane (envtest: kube-apiserver and etcd)")
	s.env = &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join(s.opts.RepoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
	}
	cfg, err := s.env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	s.Config = cfg
	if s.Client, err = client.New(cfg, client.Options{Scheme: operator.NewScheme()}); err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	if err := s.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", OperatorNamespace, err)
	}
	s.Kubeconfig = filepath.Join(s.opts.WorkDir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, s.env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}

	var topics []string
	for _, p := range Pipelines {
		topics = append(topics, p.InputTopic, p.OutputTopic, p.DLQTopic)
	}
	s.kafka, err = kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(max(s.opts.KafkaPort, 0)), // 0: any free port
		kfake.SeedTopics(3, topics...),
	)
	if err != nil {
		return fmt.Errorf("starting Kafka on port %d (is another sandbox running?): %w", s.opts.KafkaPort, err)
	}
	s.Brokers = s.kafka.ListenAddrs()
	log.Info("Started Kafka (kfake)", "addresses", s.Brokers)

	for _, cfg := range Pipelines {
		cfg.Brokers = s.Brokers
		p, err := pipeline.New(cfg, log.WithName("pipeline").WithValues("group", cfg.Group))
		if err != nil {
			return fmt.Errorf("starting the example pipeline %s: %w", cfg.Group, err)
		}
		s.goRun("pipeline "+cfg.Group, func() error { return p.Run(ctx) })
	}

	if err := s.StartManager(); err != nil {
		return err
	}

	s.runner, err = podrunner.New(podrunner.Config{
		RESTConfig:  cfg,
		Namespaces:  []string{Namespace},
		Binary:      s.opts.Binary,
		WorkDir:     filepath.Join(s.opts.WorkDir, "pods"),
		AddressPool: s.opts.AddressPool,
		LogOutput:   s.opts.PodOutput,
		Log:         log.WithName("podrunner"),
	})
	if err != nil {
		return fmt.Errorf("creating the pod runner: %w", err)
	}
	s.goRun("pod runner", func() error { return s.runner.Run(ctx) })
	return nil
}

// goRun runs a part until the sandbox stops; a part that fails early is logged.
func (s *Sandbox) goRun(name string, run func() error) {
	s.wg.Go(func() {
		if err := run(); err != nil && !errors.Is(err, context.Canceled) {
			s.opts.Log.Error(err, "Sandbox part stopped", "part", name)
		}
	})
}

// StartManager starts the operator; the end-to-end tests stop and start it mid-run.
func (s *Sandbox) StartManager() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopMgr != nil {
		return errors.New("the operator is already running")
	}
	// As the manager command does: a restarted operator finds the key it had.
	keyCtx, cancelKey := context.WithTimeout(context.Background(), time.Minute)
	defer cancelKey()
	key, err := operator.LoadOrCreateKey(keyCtx, s.Config, ControlKeySecret)
	if err != nil {
		return fmt.Errorf("loading the operator's control key: %w", err)
	}
	mgr, err := operator.New(s.Config, operator.Options{
		ControlKey: key,
		// As config/default: nothing enforces it here, but every run gets its policy.
		NetworkPolicy: &controllers.NetworkPolicyConfig{
			OperatorNamespace: OperatorNamespace,
			OperatorPodLabels: map[string]string{"control-plane": "controller-manager"},
			MetricsNamespaces: metav1.LabelSelector{MatchLabels: map[string]string{"metrics": "enabled"}},
		},
		MetricsAddr:   "0",
		ProbeAddr:     "0",
		PodImage:      "streamreplay:sandbox",
		StartLead:     2 * time.Second,
		SignalTimeout: 2 * time.Second,
		Namespaces:    []string{Namespace},
		// StopManager and StartManager make a new manager in this process.
		ManagerSettings: func(o *ctrl.Options) { o.Controller.SkipNameValidation = ptr.To(true) },
	})
	if err != nil {
		return fmt.Errorf("creating the operator: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopMgr = cancel
	s.managerErr = make(chan error, 1)
	go func() { s.managerErr <- mgr.Start(ctx) }()
	s.opts.Log.Info("Started the operator")
	return nil
}

// StopManager stops the operator and waits until it has.
func (s *Sandbox) StopManager() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopMgr == nil {
		return nil
	}
	s.stopMgr()
	s.stopMgr = nil
	if err := <-s.managerErr; err != nil {
		return fmt.Errorf("the operator stopped with an error: %w", err)
	}
	return nil
}

// Runner is the pod runner, for tests that kill a pod's process.
func (s *Sandbox) Runner() *podrunner.Runner { return s.runner }

// Stop takes every part down, the pods' processes first.
func (s *Sandbox) Stop() {
	if err := s.StopManager(); err != nil {
		s.opts.Log.Error(err, "Stopping the operator")
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	if s.kafka != nil {
		s.kafka.Close()
	}
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			s.opts.Log.Error(err, "Stopping the control plane")
		}
	}
}
