package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/operator"
)

func parseManagerFlags(t *testing.T, args ...string) (*operator.Options, *managerFlags) {
	t.Helper()
	var (
		opts operator.Options
		mf   managerFlags
	)
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	bindManagerFlags(fs, &opts, &mf)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &opts, &mf
}

func TestManagerFlagDefaults(t *testing.T) {
	opts, mf := parseManagerFlags(t)
	if opts.MetricsAddr != ":8443" || !opts.MetricsSecure || opts.EnableHTTP2 {
		t.Errorf("metrics %q secure %v http2 %v, want :8443, secure, HTTP/1.1", opts.MetricsAddr, opts.MetricsSecure, opts.EnableHTTP2)
	}
	if mf.networkPolicy {
		t.Error("--pod-network-policy is on by default: it needs the operator's namespace, which a local run lacks")
	}
	if opts.MaxConcurrentReconciles != operator.DefaultMaxConcurrentReconciles || opts.SignalBudget != operator.DefaultSignalBudget {
		t.Errorf("--max-concurrent-reconciles %d --signal-budget %s, want the operator's defaults %d and %s",
			opts.MaxConcurrentReconciles, opts.SignalBudget, operator.DefaultMaxConcurrentReconciles, operator.DefaultSignalBudget)
	}
}

func TestControlKeySecretNamespace(t *testing.T) {
	_, mf := parseManagerFlags(t, "--control-key-secret=k")
	t.Setenv(envPodNamespace, "from-env")
	if got, err := mf.controlKeySecret(); err != nil || got.String() != "from-env/k" {
		t.Errorf("with $POD_NAMESPACE: %s, %v", got, err)
	}
	_, mf = parseManagerFlags(t, "--control-key-namespace=ops")
	if got, err := mf.controlKeySecret(); err != nil || got.String() != "ops/streamreplay-control-key" {
		t.Errorf("with the flag: %s, %v", got, err)
	}
}

func TestNetworkPolicyFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    *controllers.NetworkPolicyConfig
		wantErr string
	}{
		{args: nil},
		{
			args: []string{"--pod-network-policy"},
			want: &controllers.NetworkPolicyConfig{
				OperatorNamespace: "ops", OperatorPodLabels: map[string]string{"control-plane": "controller-manager"},
				MetricsNamespaces: metav1.LabelSelector{MatchLabels: map[string]string{"metrics": "enabled"}},
			},
		},
		{
			args: []string{"--pod-network-policy", "--operator-pod-labels=app=op,tier=ctl", "--metrics-namespace-selector=kubernetes.io/metadata.name in (monitoring,obs)"},
			want: &controllers.NetworkPolicyConfig{
				OperatorNamespace: "ops", OperatorPodLabels: map[string]string{"app": "op", "tier": "ctl"},
				MetricsNamespaces: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"monitoring", "obs"},
				}}},
			},
		},
		{args: []string{"--pod-network-policy", "--operator-pod-labels="}, wantErr: "--operator-pod-labels is empty"},
		{args: []string{"--pod-network-policy", "--operator-pod-labels=a"}, wantErr: `--operator-pod-labels="a"`},
		{args: []string{"--pod-network-policy", "--metrics-namespace-selector= "}, wantErr: "every namespace could reach"},
		{args: []string{"--pod-network-policy", "--metrics-namespace-selector=a in b"}, wantErr: `--metrics-namespace-selector="a in b"`},
	} {
		_, mf := parseManagerFlags(t, tc.args...)
		got, err := mf.networkPolicyConfig("ops")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
		}
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.args, diff)
		}
	}
}
