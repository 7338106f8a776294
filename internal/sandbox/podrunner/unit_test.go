package podrunner

import (
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestFileAccess(t *testing.T) {
	nonRoot := &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532)}
	withFSGroup := nonRoot.DeepCopy()
	withFSGroup.FSGroup = ptr.To[int64](65532)
	rootGroup := nonRoot.DeepCopy()
	rootGroup.RunAsGroup = ptr.To[int64](0)
	root := &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](0)}
	for _, tc := range []struct {
		name string
		psc  *corev1.PodSecurityContext
		in   fs.FileMode
		want fs.FileMode
	}{
		{"no security context: as written", nil, 0o400, 0o400},
		{"root reads everything", root, 0o400, 0o400},
		{"fsGroup adds group read", withFSGroup, 0o400, 0o440},
		{"fsGroup with 0644", withFSGroup, 0o644, 0o444},
		{"fsGroup keeps group write", withFSGroup, 0o660, 0o660},
		{"non-root without fsGroup: other bits", nonRoot, 0o440, 0o040},
		{"non-root without fsGroup: readable by all", nonRoot, 0o644, 0o444},
		{"root group: group bits", rootGroup, 0o440, 0o440},
	} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: tc.psc, Containers: []corev1.Container{{Name: "c"}}}}
		if got := podFileAccess(pod).mode(tc.in); got != tc.want {
			t.Errorf("%s: mode(%#o) = %#o, want %#o", tc.name, tc.in, got, tc.want)
		}
	}
	// The container's runAsUser wins over the pod's.
	pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: nonRoot, Containers: []corev1.Container{{
		Name: "c", SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)},
	}}}}
	if got := podFileAccess(pod).mode(0o400); got != 0o400 {
		t.Errorf("container running as root: mode(0400) = %#o, want 0400", got)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"plain":         "plain",
		"$(A)":          "a",
		"x$(A)y$(A)":    "xaya",
		"$(EMPTY)!":     "!",
		"$(MISSING)":    "$(MISSING)",
		"$$(A)":         "$(A)",
		"$$":            "$",
		"$":             "$",
		"a$":            "a$",
		"$(A":           "$(A",
		"$x $1":         "$x $1",
		"100$ $$$(A)":   "100$ $a",
		"$(A)$(A)$$(A)": "aa$(A)",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMountRewrite(t *testing.T) {
	ms := newMounts([]mount{
		{path: "/data", local: "/w/data"},
		{path: "/data/inner/", local: "/w/inner"},
		{path: "/tmp", local: "/w/tmp"},
		{path: "/", local: "/w/root"},
		{path: "relative", local: "/w/rel"},
	})
	for in, want := range map[string]string{
		"/data":                      "/w/data",
		"/data/x.json":               "/w/data/x.json",
		"/data/inner/y":              "/w/inner/y",
		"/database":                  "/database",
		"/data.bak":                  "/data.bak",
		"/var/data":                  "/var/data",
		"x/data":                     "x/data",
		`{"a":"/data/s","b":"/tmp"}`: `{"a":"/w/data/s","b":"/w/tmp"}`,
		"--file=/tmp/a,/data/b":      "--file=/w/tmp/a,/w/data/b",
		"file:///data/s":             "file:///w/data/s",
		"no paths":                   "no paths",
		"/usr/bin":                   "/usr/bin",
	} {
		if got := ms.rewrite(in); got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\n", 5, "a\nb\n"},
		{"", 3, ""},
	} {
		if got := string(lastLines([]byte(tc.in), tc.n)); got != tc.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestLogTail(t *testing.T) {
	name := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %03d %s\n", i, strings.Repeat("x", 40))
	}
	if err := os.WriteFile(name, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// 80 lines of 50 bytes are more than 2048 bytes: the last 2048 bytes stay.
	got := logTail(name)
	if len(got) != maxFallbackLogBytes || !strings.HasSuffix(got, "line 099 "+strings.Repeat("x", 40)+"\n") {
		t.Errorf("logTail = %d bytes ending %q", len(got), got[max(0, len(got)-60):])
	}
	if got := logTail(filepath.Join(t.TempDir(), "missing")); !strings.HasPrefix(got, "Error on reading termination message from logs") {
		t.Errorf("logTail of a missing file = %q", got)
	}
}

func TestAddressPool(t *testing.T) {
	p, err := newAddressPool(netip.MustParsePrefix("127.0.43.0/30"))
	if err != nil {
		t.Fatal(err)
	}
	// A /30 has two usable addresses: .1 and .2 (.0 is the network, .3 the broadcast).
	a, err := p.allocate(nil)
	if err != nil || a.String() != "127.0.43.1" {
		t.Fatalf("first address = %v, %v", a, err)
	}
	b, err := p.allocate(nil)
	if err != nil || b.String() != "127.0.43.2" {
		t.Fatalf("second address = %v, %v", b, err)
	}
	if _, err := p.allocate(nil); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Fatalf("third allocation: %v, want the pool exhausted", err)
	}
	p.release(a)
	if c, err := p.allocate(nil); err != nil || c != a {
		t.Fatalf("after release: %v, %v", c, err)
	}
	if _, err := newAddressPool(netip.MustParsePrefix("127.0.43.7/32")); err == nil {
		t.Error("a /32 pool was accepted")
	}
}
