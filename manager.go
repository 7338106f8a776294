package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/operator"
)

const (
	// envPodImage names the image of the pods the operator creates when --pod-image is not given.
	envPodImage = "STREAMREPLAY_POD_IMAGE"
	// envPodNamespace is the manager's own namespace, from the downward API.
	envPodNamespace = "POD_NAMESPACE"
	// serviceAccountNamespace is the manager's namespace when it runs in a pod.
	serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
)

// managerFlags are the manager's options that are not operator.Options.
type managerFlags struct {
	keySecret, keyNamespace string
	// The runs' NetworkPolicies.
	networkPolicy     bool
	operatorPodLabels string
	metricsNamespaces string
}

func bindManagerFlags(fs *flag.FlagSet, o *operator.Options, m *managerFlags) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8443", "address of the Prometheus metrics endpoint; 0 disables it")
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", true, "serve metrics over HTTPS to clients whose token may GET /metrics (TokenReview, SubjectAccessReview); false serves plain HTTP to anyone")
	fs.StringVar(&o.MetricsCertDir, "metrics-cert-path", "", "folder with tls.crt and tls.key for the metrics server (default: a self-signed certificate)")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false, "allow HTTP/2 on the metrics server")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "", "address of Go's profiling endpoints (/debug/pprof/); empty disables them")
	fs.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	fs.StringVar(&o.PodImage, "pod-image", os.Getenv(envPodImage), "image of the worker and observer pods (default $"+envPodImage+")")
	fs.DurationVar(&o.StartLead, "start-lead", 2*time.Second, "how far ahead the common start time is set once all pods are Ready")
	fs.Func("watch-namespace", "reconcile LoadTests of this namespace only; repeat for more (default: all)", func(ns string) error {
		o.Namespaces = append(o.Namespaces, ns)
		return nil
	})
	fs.DurationVar(&o.SignalTimeout, "signal-timeout", 2*time.Second, "timeout of one start or stop call to a pod")
	fs.DurationVar(&o.SignalBudget, "signal-budget", operator.DefaultSignalBudget, "how long one reconcile may spend signalling a LoadTest's pods; pods not reached by then are tried again in the next pass (at least --signal-timeout)")
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", operator.DefaultMaxConcurrentReconciles, "how many LoadTests are reconciled at once (one LoadTest is never reconciled twice at once)")
	fs.StringVar(&m.keySecret, "control-key-secret", "streamreplay-control-key", "Secret holding the key that signs the runs' control tokens; created when missing")
	fs.StringVar(&m.keyNamespace, "control-key-namespace", "", "namespace of --control-key-secret (default $"+envPodNamespace+", else the manager's own)")
	fs.BoolVar(&m.networkPolicy, "pod-network-policy", false, "give every run a NetworkPolicy: the control port open to the operator's pods only, the metrics port to --metrics-namespace-selector only")
	fs.StringVar(&m.operatorPodLabels, "operator-pod-labels", "control-plane=controller-manager", "labels of the operator's pods (in its namespace, see --control-key-namespace), for --pod-network-policy")
	fs.StringVar(&m.metricsNamespaces, "metrics-namespace-selector", "metrics=enabled", "label selector of the namespaces that may scrape the run's pods, for --pod-network-policy")
}

func runManager(args []string) error {
	var (
		opts operator.Options
		mf   managerFlags
	)
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	bindManagerFlags(fs, &opts, &mf)
	zapOpts := zap.Options{Development: false, TimeEncoder: zapcore.RFC3339NanoTimeEncoder}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h and --help printed the usage: not a failure
		}
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if opts.PodImage == "" {
		return errors.New("no image for the pods: set --pod-image or $" + envPodImage)
	}
	keySecret, err := mf.controlKeySecret()
	if err != nil {
		return err
	}
	if opts.NetworkPolicy, err = mf.networkPolicyConfig(keySecret.Namespace); err != nil {
		return err
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	keyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if opts.ControlKey, err = operator.LoadOrCreateKey(keyCtx, cfg, keySecret); err != nil {
		return err
	}
	mgr, err := operator.New(cfg, opts)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// controlKeySecret names the control key's Secret: in the namespace given, else the
// manager's own.
func (m *managerFlags) controlKeySecret() (types.NamespacedName, error) {
	ns := m.keyNamespace
	if ns == "" {
		ns = os.Getenv(envPodNamespace)
	}
	if ns == "" {
		if b, err := os.ReadFile(serviceAccountNamespace); err == nil {
			ns = strings.TrimSpace(string(b))
		}
	}
	if ns == "" {
		return types.NamespacedName{}, errors.New("no namespace for the control key's Secret: set --control-key-namespace or $" + envPodNamespace)
	}
	return types.NamespacedName{Namespace: ns, Name: m.keySecret}, nil
}

// networkPolicyConfig is nil unless --pod-network-policy; the operator runs in namespace.
func (m *managerFlags) networkPolicyConfig(namespace string) (*controllers.NetworkPolicyConfig, error) {
	if !m.networkPolicy {
		return nil, nil //nolint:nilnil // no policy is a valid answer
	}
	podLabels, err := labels.ConvertSelectorToLabelsMap(m.operatorPodLabels)
	if err != nil {
		return nil, fmt.Errorf("--operator-pod-labels=%q: want key=value pairs separated by commas: %w", m.operatorPodLabels, err)
	}
	if len(podLabels) == 0 {
		return nil, errors.New("--operator-pod-labels is empty: every pod of the operator's namespace could reach the runs' control ports")
	}
	// An empty selector would select every namespace.
	if strings.TrimSpace(m.metricsNamespaces) == "" {
		return nil, errors.New("--metrics-namespace-selector is empty: every namespace could reach the runs' metrics ports")
	}
	namespaces, err := metav1.ParseToLabelSelector(m.metricsNamespaces)
	if err != nil {
		return nil, fmt.Errorf("--metrics-namespace-selector=%q: %w", m.metricsNamespaces, err)
	}
	return &controllers.NetworkPolicyConfig{OperatorNamespace: namespace, OperatorPodLabels: podLabels, MetricsNamespaces: *namespaces}, nil
}
