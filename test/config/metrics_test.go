//go:build linux

package config

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/streamreplay/streamreplay/internal/operator"
	"github.com/streamreplay/streamreplay/test/fakepods"
)

// TestManagerMetricsNeedAnAuthorisedToken runs the manager as the ServiceAccount that
// config/default installs, with only the RBAC config/default gives it, and its metrics
// served as config/default sets them (HTTPS, authentication and authorization). A
// request without a token gets 401, one with the token of an account that is not bound
// to metrics-reader gets 403, and one with the token of an account bound to
// metrics-reader (minted by the API server's TokenRequest) gets the metrics.
func TestManagerMetricsNeedAnAuthorisedToken(t *testing.T) {
	cfg, c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := renderDefault(t)
	for _, kind := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		for _, obj := range r.ofKind(kind) {
			if err := createForReal(ctx, c, obj); err != nil {
				t.Fatalf("%s: %v", describe(obj), err)
			}
		}
	}
	var readerRole string
	for _, obj := range r.ofKind("ClusterRole") {
		if strings.HasSuffix(obj.GetName(), "metrics-reader") {
			readerRole = obj.GetName()
		}
	}
	if readerRole == "" {
		t.Fatal("config/default installs no ClusterRole *metrics-reader")
	}
	if v, _ := flagValue(r.manager.Args, "metrics-secure"); v != "true" {
		t.Fatalf("config/default does not serve the manager's metrics securely: args %q", r.manager.Args)
	}

	// The manager, as its ServiceAccount.
	own := r.deployment.Namespace
	asManager := rest.CopyConfig(cfg)
	asManager.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", own, r.deployment.Spec.Template.Spec.ServiceAccountName),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + own, "system:authenticated"},
	}
	keySecret, _ := flagValue(r.manager.Args, "control-key-secret")
	key, err := operator.LoadOrCreateKey(ctx, asManager, types.NamespacedName{Namespace: own, Name: keySecret})
	if err != nil {
		t.Fatalf("the manager's ServiceAccount cannot load its control key: %v", err)
	}
	// The metrics server binds port 0 and its socket, caught as the server makes it, says
	// which port it got: a port picked beforehand could be taken in between.
	metricsSocket := make(chan syscall.RawConn, 1)
	mgr, err := operator.New(asManager, operator.Options{
		ControlKey:    key,
		MetricsAddr:   "127.0.0.1:0",
		MetricsSecure: true,
		ProbeAddr:     "0",
		PodImage:      "streamreplay:test",
		Namespaces:    []string{createNamespace(ctx, t, c, "metrics")},
		ManagerSettings: func(o *ctrl.Options) {
			fakepods.SeveralManagers(o)
			o.Metrics.ListenConfig.Control = func(_, _ string, conn syscall.RawConn) error {
				select {
				case metricsSocket <- conn:
				default:
				}
				return nil
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	// Two accounts of a monitoring namespace; one may read the metrics.
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	monitoring := createNamespace(ctx, t, c, "monitoring")
	token := func(sa string) string {
		t.Helper()
		if err := c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: monitoring}}); err != nil {
			t.Fatal(err)
		}
		tr, err := kube.CoreV1().ServiceAccounts(monitoring).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("TokenRequest for %s: %v", sa, err)
		}
		return tr.Status.Token
	}
	prometheus, stranger := token("prometheus"), token("stranger")
	if err := c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader-" + monitoring},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: readerRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: monitoring}},
	}); err != nil {
		t.Fatal(err)
	}

	url := fmt.Sprintf("https://127.0.0.1:%d/metrics", boundPort(t, metricsSocket))
	scrape := func(bearer string) (int, string, error) {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the manager's self-signed certificate, as the shipped ServiceMonitor
		}}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, "", err
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	// The server comes up with the manager; the SubjectAccessReview of a new binding may
	// lag a moment behind the API server's RBAC cache.
	var body string
	fakepods.Eventually(t, "metrics for the bound account", time.Minute, func() error {
		code, b, err := scrape(prometheus)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET /metrics = %d: %w", code, err)
		}
		body = b
		return nil
	})
	if !strings.Contains(body, "controller_runtime_reconcile_total") {
		t.Errorf("the metrics lack controller_runtime_reconcile_total:\n%.2000s", body)
	}
	for _, tc := range []struct {
		who, bearer string
		want        []int
	}{
		{"no token", "", []int{http.StatusUnauthorized}},
		// controller-runtime's filter answers 500 "Authentication failed" when the
		// TokenReview carries an error, as it does for a token that is no JWT.
		{"a made-up token", "not-a-token", []int{http.StatusUnauthorized, http.StatusInternalServerError}},
		{"an account not bound to metrics-reader", stranger, []int{http.StatusForbidden}},
	} {
		code, b, err := scrape(tc.bearer)
		if err != nil || !slices.Contains(tc.want, code) || strings.Contains(b, "controller_runtime") {
			t.Errorf("GET /metrics with %s = %d (%v), want %v and no metrics", tc.who, code, err, tc.want)
		}
	}
	// Plain HTTP is not served.
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(strings.Replace(url, "https:", "http:", 1))
	if err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET /metrics over plain HTTP = %d", resp.StatusCode)
		}
	}
}

// boundPort waits for the socket the metrics server makes, then for its port, which the
// socket has once the server has bound it.
func boundPort(t *testing.T, socket <-chan syscall.RawConn) int {
	t.Helper()
	var c syscall.RawConn
	select {
	case c = <-socket:
	case <-time.After(time.Minute):
		t.Fatal("the metrics server made no socket within a minute")
	}
	var port int
	fakepods.Eventually(t, "the metrics server's port", time.Minute, func() error {
		var sa syscall.Sockaddr
		var err error
		if cerr := c.Control(func(fd uintptr) { sa, err = syscall.Getsockname(int(fd)) }); cerr != nil {
			return cerr
		}
		if err != nil {
			return err
		}
		if in4, ok := sa.(*syscall.SockaddrInet4); ok && in4.Port != 0 {
			port = in4.Port
			return nil
		}
		return fmt.Errorf("not bound yet: %v", sa)
	})
	return port
}
