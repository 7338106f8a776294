package podrunner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type probeKind int

const (
	readinessProbe probeKind = iota
	livenessProbe
	startupProbe
)

func (k probeKind) String() string {
	switch k {
	case readinessProbe:
		return "readiness"
	case livenessProbe:
		return "liveness"
	default:
		return "startup"
	}
}

// probeEvent is a change of a probe's verdict for one container.
type probeEvent struct {
	container int
	kind      probeKind
	ok        bool
	err       error
}

// prober runs one probe of one container.
type prober struct {
	kind   probeKind
	probe  *corev1.Probe
	host   string
	ports  []corev1.ContainerPort
	client *http.Client
}

func newProber(kind probeKind, probe *corev1.Probe, podIP string, ports []corev1.ContainerPort) *prober {
	return &prober{
		kind:  kind,
		probe: probe,
		host:  podIP,
		ports: ports,
		client: &http.Client{Transport: &http.Transport{
			// As the kubelet: no keep-alive, no proxy, and certificates are not checked.
			DisableKeepAlives: true,
			Proxy:             nil,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the kubelet does not verify probe certificates either
		}},
	}
}

// check runs the probe once.
func (p *prober) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, seconds(p.probe.TimeoutSeconds, 1))
	defer cancel()
	switch h := p.probe.ProbeHandler; {
	case h.HTTPGet != nil:
		return p.httpGet(ctx, h.HTTPGet)
	case h.TCPSocket != nil:
		host, port, err := p.target(h.TCPSocket.Host, h.TCPSocket.Port)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		return conn.Close()
	default:
		return errors.New("the local pod runner only runs httpGet and tcpSocket probes")
	}
}

func (p *prober) httpGet(ctx context.Context, h *corev1.HTTPGetAction) error {
	host, port, err := p.target(h.Host, h.Port)
	if err != nil {
		return err
	}
	scheme := "http"
	if h.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}
	u.Path, u.RawQuery, _ = strings.Cut(h.Path, "?")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), http.NoBody)
	if err != nil {
		return fmt.Errorf("probe request: %w", err)
	}
	req.Header.Set("User-Agent", "kube-probe/podrunner")
	for _, hd := range h.HTTPHeaders {
		req.Header.Add(hd.Name, hd.Value)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusBadRequest {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// target resolves the probe's host (the pod's address by default) and port (a number
// or the name of a container port).
func (p *prober) target(host string, port intstr.IntOrString) (string, string, error) {
	if host == "" {
		host = p.host
	}
	if port.Type == intstr.Int {
		return host, strconv.Itoa(port.IntValue()), nil
	}
	for _, cp := range p.ports {
		if cp.Name == port.StrVal {
			return host, strconv.Itoa(int(cp.ContainerPort)), nil
		}
	}
	return "", "", fmt.Errorf("the container has no port named %q", port.StrVal)
}

// run probes until ctx ends, and sends an event whenever the verdict changes: the
// kubelet's thresholds count consecutive results. A startup probe returns once it
// succeeded; it reports a failure as its verdict going to false.
func (p *prober) run(ctx context.Context, send func(ok bool, err error) bool) {
	success := int(max(p.probe.SuccessThreshold, 1))
	failure := int(max(p.probe.FailureThreshold, 1))
	if p.probe.FailureThreshold == 0 {
		failure = 3
	}
	period := seconds(p.probe.PeriodSeconds, 10)
	// Readiness and startup start false; liveness starts healthy.
	state := p.kind == livenessProbe
	var successes, failures int
	timer := time.NewTimer(time.Duration(p.probe.InitialDelaySeconds) * time.Second)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		err := p.check(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			successes, failures = successes+1, 0
		} else {
			successes, failures = 0, failures+1
		}
		switch {
		case !state && successes >= success:
			state = true
			if !send(true, nil) || p.kind == startupProbe {
				return
			}
		case (state || p.kind == startupProbe) && failures >= failure:
			state = false
			if !send(false, err) || p.kind != readinessProbe {
				return
			}
		}
		timer.Reset(period)
	}
}

// seconds is a probe's seconds field, or def when unset.
func seconds(v, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}
