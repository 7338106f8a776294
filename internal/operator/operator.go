// Package operator assembles the manager: the scheme, the cache, the LoadTest controller
// and the health checks. The manager command, the sandbox and the tests share it.
package operator

import (
	"crypto/tls"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/control"
)

// Options configure the operator.
type Options struct {
	// MetricsAddr is where the manager's metrics are served; "0" disables them.
	MetricsAddr string
	// MetricsSecure serves them over HTTPS to authenticated and authorised clients only
	// (TokenReview and SubjectAccessReview against the API server).
	MetricsSecure bool
	// MetricsCertDir holds tls.crt and tls.key; a self-signed certificate when empty.
	MetricsCertDir string
	// EnableHTTP2 allows HTTP/2 on the metrics server (off: HTTP/2 rapid reset and stream
	// cancellation attacks).
	EnableHTTP2 bool
	ProbeAddr   string
	// PprofAddr serves Go's profiles (net/http/pprof) when set, for profiling the manager.
	PprofAddr      string
	LeaderElection bool
	PodImage       string
	StartLead      time.Duration
	SignalTimeout  time.Duration
	// SignalBudget bounds the wall time one reconcile spends signalling pods; 0 means
	// DefaultSignalBudget. It must not be shorter than SignalTimeout.
	SignalBudget time.Duration
	// MaxConcurrentReconciles is how many LoadTests are reconciled at once; 0 means
	// DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// Namespaces limits the operator to these namespaces; all when empty.
	Namespaces []string
	// ControlKey signs the runs' control tokens; required (see LoadOrCreateKey).
	ControlKey control.Key
	// NetworkPolicy, when set, gives every run a NetworkPolicy (see controllers).
	NetworkPolicy *controllers.NetworkPolicyConfig
	// ManagerSettings, when set, may change controller-runtime's manager options before the
	// manager is made; the manager command leaves it nil. A process that makes more than
	// one manager over its life (a test suite, the sandbox restarting its operator) sets
	// Controller.SkipNameValidation with it: controller names must be unique otherwise.
	ManagerSettings func(*ctrl.Options)
	// Clock is the real clock unless a test injects one.
	Clock clock.PassiveClock
}

// Defaults of the options that tune the controller at scale (docs/design.md, "The
// control protocol"). Reconciles wait mostly on the API server and the pods, not on a
// core, so more workers than the 2 cores of the smallest target pay off; each one of them
// an unreachable LoadTest holds for at most DefaultSignalBudget per pass.
const (
	DefaultMaxConcurrentReconciles = 8
	DefaultSignalBudget            = 3 * time.Second
)

// metricsOptions serve the manager's metrics as kubebuilder scaffolds them: HTTPS with
// the authentication and authorization filter when secure, HTTP/1.1 only unless asked.
func metricsOptions(opts Options) metricsserver.Options {
	o := metricsserver.Options{BindAddress: opts.MetricsAddr, SecureServing: opts.MetricsSecure}
	if !opts.EnableHTTP2 {
		o.TLSOpts = append(o.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if opts.MetricsSecure {
		o.FilterProvider = filters.WithAuthenticationAndAuthorization
		if opts.MetricsCertDir != "" {
			o.CertDir, o.CertName, o.KeyName = opts.MetricsCertDir, "tls.crt", "tls.key"
		}
	}
	return o
}

// NewScheme knows the built-in types and the LoadTest API.
func NewScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(streamreplayv1alpha1.AddToScheme(scheme))
	return scheme
}

// New builds the manager with the LoadTest controller registered.
func New(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	if err := opts.ControlKey.Validate(); err != nil {
		return nil, err
	}
	if err := opts.defaultScale(); err != nil {
		return nil, err
	}
	scheme := NewScheme()
	// Cache only the pods this operator created, not every pod of the cluster.
	ownPods := labels.SelectorFromSet(labels.Set{controllers.LabelManagedBy: controllers.ManagerName})
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	var namespaces map[string]cache.Config
	for _, ns := range opts.Namespaces {
		if namespaces == nil {
			namespaces = map[string]cache.Config{}
		}
		namespaces[ns] = cache.Config{}
	}
	mgrOpts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOptions(opts),
		HealthProbeBindAddress: opts.ProbeAddr,
		PprofBindAddress:       opts.PprofAddr,
		LeaderElection:         opts.LeaderElection,
		LeaderElectionID:       "streamreplay.streamreplay.io",
		Cache: cache.Options{DefaultNamespaces: namespaces, ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: ownPods},
		}},
	}
	if opts.ManagerSettings != nil {
		opts.ManagerSettings(&mgrOpts)
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	reconciler := &controllers.LoadTestReconciler{
		Client:        mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		Scheme:        scheme,
		Recorder:      mgr.GetEventRecorder("streamreplay-operator"),
		Clock:         opts.Clock,
		Signals:       controllers.HTTPSignaller{Client: control.NewClient(opts.SignalTimeout), Key: opts.ControlKey},
		PodImage:      opts.PodImage,
		StartLead:     opts.StartLead,
		ControlKey:    opts.ControlKey,
		NetworkPolicy: opts.NetworkPolicy,

		SignalBudget:            opts.SignalBudget,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
	}
	if err := reconciler.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the LoadTest controller: %w", err)
	}
	if err := addLoadTestMetrics(mgr); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding ready check: %w", err)
	}
	return mgr, nil
}
