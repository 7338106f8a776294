package podrunner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/plan"
)

// The operator's own worker pod, as controllers.BuildWorkerPod makes it: the plan's
// mount paths reach the process as local files with the Secret's mode, the downward-API
// variables are right, the pod becomes Ready through its named control port, and a
// deletion stops it with SIGTERM and removes it.
func TestOperatorWorkerPod(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	lt := &streamreplayv1alpha1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: ns, UID: "run-1"},
		Spec: streamreplayv1alpha1.LoadTestSpec{
			Scenario:   streamreplayv1alpha1.Scenario{Type: streamreplayv1alpha1.ScenarioConstant},
			TargetRate: ptr.To[int64](100),
			Duration:   &metav1.Duration{Duration: time.Minute},
			Workers:    2,
			SampleSet: streamreplayv1alpha1.SampleSet{
				ConfigMapRef: &streamreplayv1alpha1.ConfigMapKeyRef{Name: "samples", Key: "samples.jsonl"},
				Format:       streamreplayv1alpha1.SampleFormatJSONLines,
			},
			Kafka: streamreplayv1alpha1.Kafka{
				BootstrapServers: []string{"127.0.0.1:9092"},
				TLS:              &streamreplayv1alpha1.KafkaTLS{CASecretRef: &streamreplayv1alpha1.SecretKeyRef{Name: "kafka-ca", Key: "ca.crt"}},
				SASL:             &streamreplayv1alpha1.KafkaSASL{Mechanism: streamreplayv1alpha1.SASLScramSHA512, SecretRef: streamreplayv1alpha1.SecretRef{Name: "kafka-sasl"}},
			},
			Target: streamreplayv1alpha1.Target{Topic: "dbserver1.dbo.customers"},
		},
	}
	samples := `{"key":"1","value":{"id":1}}` + "\n"
	createConfigMap(t, ns, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "samples"}, Data: map[string]string{"samples.jsonl": samples},
	})
	createSecret(t, ns, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "kafka-ca"}, Data: map[string][]byte{"ca.crt": []byte("PEM")},
	})
	createSecret(t, ns, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "kafka-sasl"}, Data: map[string][]byte{"username": []byte("alice"), "password": []byte("s3cret")},
	})
	createSecret(t, ns, controllers.BuildControlSecret(lt, "the-run-token"))
	pod, err := controllers.BuildWorkerPod(lt, 1, "ghcr.io/streamreplay/streamreplay:test")
	if err != nil {
		t.Fatal(err)
	}
	createPod(t, pod)

	pod = waitPod(t, ns, pod.Name, "Ready", isReady)
	if pod.Spec.NodeName != DefaultNodeName {
		t.Errorf("nodeName = %q, want %q", pod.Spec.NodeName, DefaultNodeName)
	}
	if ip := netip.MustParseAddr(pod.Status.PodIP); !testAddressPool.Contains(ip) || len(pod.Status.PodIPs) != 1 {
		t.Errorf("podIP %s, podIPs %v: want one address of %s", ip, pod.Status.PodIPs, testAddressPool)
	}
	if pod.Status.HostIP != "127.0.0.1" || pod.Status.StartTime == nil {
		t.Errorf("hostIP %q, startTime %v", pod.Status.HostIP, pod.Status.StartTime)
	}
	cs := pod.Status.ContainerStatuses[0]
	if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started {
		t.Errorf("container status = %+v, want running, started and ready", cs)
	}

	info := podInfo(t, pod)
	wantArgs := []string{"--control-address=" + pod.Status.PodIP + ":9400", "--metrics-address=" + pod.Status.PodIP + ":9401"}
	if len(info.Args) != 5 || info.Args[0] != "worker" || !strings.HasPrefix(info.Args[1], "--control-token-file="+workDir) ||
		!slices.Equal(info.Args[2:4], wantArgs) || !strings.HasPrefix(info.Args[4], "--termination-log="+workDir) {
		t.Errorf("args = %q, want worker, --control-token-file=<a file of %s>, %q, then --termination-log=<a file of %s>", info.Args, workDir, wantArgs, workDir)
	}
	tokenFile := strings.TrimPrefix(info.Args[1], "--control-token-file=")
	e := info.env()
	for k, want := range map[string]string{
		plan.EnvPodName: pod.Name, plan.EnvPodNamespace: ns, plan.EnvPodIP: pod.Status.PodIP, "HOSTNAME": pod.Name,
	} {
		if e[k] != want {
			t.Errorf("$%s = %q, want %q", k, e[k], want)
		}
	}
	if _, ok := e[hostOnlyVariable]; ok {
		t.Errorf("the host's $%s leaked into the pod", hostOnlyVariable)
	}
	if e["PATH"] != os.Getenv("PATH") {
		t.Errorf("$PATH = %q, want the host's", e["PATH"])
	}
	if tmp := e["TMPDIR"]; !strings.HasPrefix(tmp, workDir) || !isDir(tmp) {
		t.Errorf("$TMPDIR = %q, want the emptyDir mounted at /tmp", tmp)
	}

	raw := e[plan.EnvPlan]
	if strings.Contains(raw, "/var/run/streamreplay") {
		t.Errorf("the plan still names mount paths: %s", raw)
	}
	p, err := plan.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path, content string
		mode          os.FileMode
	}{
		// Owned by root on a node: the pod's user 65532 reads it through fsGroup, and cannot write it.
		{p.Samples.Path, samples, 0o444},
		{tokenFile, "the-run-token", 0o440},
		{p.Kafka.TLS.CAFile, "PEM", 0o440},
		{p.Kafka.SASL.UsernameFile, "alice", 0o440},
		{p.Kafka.SASL.PasswordFile, "s3cret", 0o440},
	} {
		checkFile(t, f.path, f.content, f.mode)
	}

	// The operator deletes a pod with its grace period; the process gets SIGTERM.
	deletePod(t, ns, pod.Name, nil)
	waitGone(t, ns, pod.Name)
	got := exits.get(ns, pod.Name)
	if len(got) != 1 || got[0].ExitCode != 0 || got[0].Message != "stopped by SIGTERM" {
		t.Errorf("exit = %+v, want exit code 0 with the SIGTERM message", got)
	}
	if _, err := os.Stat(filepath.Dir(p.Kafka.SASL.UsernameFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the Secret's files outlived the pod: %v", err)
	}
}

// A pod that runs as a non-root user reaches its Secret's files as it would on a node:
// through the fsGroup, or else through the "other" bits only, so a key mounted 0400
// without fsGroup cannot be read, and the pod fails as it would there.
func TestSecretFilesAsThePodsUserReachesThem(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createSecret(t, ns, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token"}, Data: map[string][]byte{"token": []byte("t0k3n")}})
	for _, tc := range []struct {
		name     string
		fsGroup  *int64
		mode     int32
		wantMode string
		readable bool
	}{
		{"fsgroup-0400", ptr.To[int64](65532), 0o400, "0440", true},
		{"fsgroup-0440", ptr.To[int64](65532), 0o440, "0440", true},
		{"nofsgroup-0400", nil, 0o400, "0000", false},
		{"nofsgroup-0444", nil, 0o444, "0444", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := fakePod(ns, tc.name, env("FAKEPOD_READ", "/var/run/token/token"), env("FAKEPOD_FILES", "/var/run/token/token"))
			pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532), FSGroup: tc.fsGroup}
			pod.Spec.Volumes = []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "token", DefaultMode: ptr.To(tc.mode),
			}}}}
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "token", MountPath: "/var/run/token", ReadOnly: true}}
			createPod(t, pod)
			// Root (a CI container) reads any file whatever its mode: then only the mode
			// can be checked.
			if !tc.readable && os.Getuid() != 0 {
				pod = waitPod(t, ns, tc.name, "Failed", isFailed)
				if term := terminated(pod); term == nil || !strings.Contains(term.Message, "permission denied") {
					t.Errorf("termination = %+v, want the pod to fail reading its Secret: permission denied", term)
				}
			} else {
				pod = waitPod(t, ns, tc.name, "Ready", isReady)
			}
			dir, ok := runner.PodDir(ns, tc.name)
			if !ok {
				t.Fatal("PodDir does not know the pod")
			}
			file := filepath.Join(dir, "volumes", "token", "token")
			st, err := os.Stat(file)
			if err != nil || fmt.Sprintf("%04o", st.Mode().Perm()) != tc.wantMode {
				t.Errorf("%s: mode %v (%v), want %s", file, st.Mode().Perm(), err, tc.wantMode)
			}
			if !tc.readable {
				return
			}
			if got := podInfo(t, pod).Files[file]; got.Mode != tc.wantMode || string(got.Content) != "t0k3n" || got.Error != "" {
				t.Errorf("the process reads the token file with mode %s content %q error %q, want mode %s and its content", got.Mode, got.Content, got.Error, tc.wantMode)
			}
		})
	}
}

// A pod's env (values, $(VAR), fieldRef, configMapKeyRef, secretKeyRef, envFrom) and
// volumes (ConfigMap and Secret items with paths and modes, binaryData, emptyDir, a
// claim's folder, subPath), as its process sees them.
func TestEnvAndVolumes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createConfigMap(t, ns, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data:       map[string]string{"app.conf": "a=1", "greeting": "hello"},
		BinaryData: map[string][]byte{"blob.bin": {0, 1, 2, 0xff}},
	})
	createSecret(t, ns, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data:       map[string][]byte{"user": []byte("alice"), "pass": []byte("s3cret")},
	})
	claim := runner.ClaimDir(ns, "samples-claim")
	writeFile(t, filepath.Join(claim, "samples.jsonl"), "{}\n")
	writeFile(t, filepath.Join(claim, "inner", "x.txt"), "x")

	files := []string{
		"/etc/app/conf/app.conf", "/etc/app/blob.bin", "/var/run/secrets/creds/user",
		"/var/run/secrets/creds/nested/pass", "/etc/all/greeting", "/data/samples.jsonl", "/mnt/sub/x.txt",
	}
	pod := fakePod(ns, "env",
		env("PLAIN", "plain"),
		fieldEnv("NAME", "metadata.name"),
		fieldEnv("NS", "metadata.namespace"),
		fieldEnv("UID", "metadata.uid"),
		fieldEnv("IP", "status.podIP"),
		fieldEnv("NODE", "spec.nodeName"),
		fieldEnv("MANAGER", "metadata.labels['app.kubernetes.io/managed-by']"),
		corev1.EnvVar{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "greeting",
		}}},
		corev1.EnvVar{Name: "USER_NAME", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "user",
		}}},
		corev1.EnvVar{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "absent", Optional: ptr.To(true),
		}}},
		env("COMBINED", "$(NAME)@$(IP)"),
		env("ESCAPED", "$$(NAME) $(UNDEFINED)"),
		env("PLAN", `{"samples":"/data/samples.jsonl","user":"/var/run/secrets/creds/user","tmp":"/tmp/x","other":"/database/x","sibling":"/etc/apps","bare":"/etc/app"}`),
		env("FAKEPOD_FILES", strings.Join(files, ",")),
	)
	pod.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{
		Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}},
	}}
	pod.Spec.Containers[0].Args = []string{"serve", "--config=/etc/app/conf/app.conf", "--who=$(NAME)"}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items:                []corev1.KeyToPath{{Key: "app.conf", Path: "conf/app.conf", Mode: ptr.To[int32](0o600)}, {Key: "blob.bin", Path: "blob.bin"}},
			DefaultMode:          ptr.To[int32](0o444),
		}}},
		{Name: "cfg-all", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
		}}},
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  "creds",
			Items:       []corev1.KeyToPath{{Key: "user", Path: "user"}, {Key: "pass", Path: "nested/pass", Mode: ptr.To[int32](0o400)}},
			DefaultMode: ptr.To[int32](0o440),
		}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "samples-claim"}}},
	}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "cfg", MountPath: "/etc/app"},
		{Name: "cfg-all", MountPath: "/etc/all"},
		{Name: "creds", MountPath: "/var/run/secrets/creds"},
		{Name: "scratch", MountPath: "/tmp"},
		{Name: "data", MountPath: "/data"},
		{Name: "data", MountPath: "/mnt/sub", SubPath: "inner"},
	}
	createPod(t, pod)
	pod = waitPod(t, ns, "env", "Ready", isReady)
	info := podInfo(t, pod)
	dir, ok := runner.PodDir(ns, "env")
	if !ok {
		t.Fatal("PodDir does not know the pod")
	}
	vol := func(name string) string { return filepath.Join(dir, "volumes", name) }

	e := info.env()
	want := map[string]string{
		"PLAIN":        "plain",
		"NAME":         "env",
		"NS":           ns,
		"UID":          string(pod.UID),
		"IP":           pod.Status.PodIP,
		"NODE":         DefaultNodeName,
		"MANAGER":      "streamreplay-operator",
		"GREETING":     "hello",
		"USER_NAME":    "alice",
		"COMBINED":     "env@" + pod.Status.PodIP,
		"ESCAPED":      "$(NAME) $(UNDEFINED)",
		"CFG_greeting": "hello",
		"TMPDIR":       vol("scratch"),
		"PLAN": strings.NewReplacer("CLAIM", claim, "CREDS", vol("creds"), "SCRATCH", vol("scratch"), "CFG", vol("cfg")).Replace(
			`{"samples":"CLAIM/samples.jsonl","user":"CREDS/user","tmp":"SCRATCH/x","other":"/database/x","sibling":"/etc/apps","bare":"CFG"}`),
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("$%s = %q, want %q", k, e[k], v)
		}
	}
	if _, ok := e["OPTIONAL"]; ok {
		t.Error("$OPTIONAL is set, want it skipped: its key is missing and optional")
	}
	if len(info.Args) < 3 || info.Args[0] != "serve" || info.Args[1] != "--config="+vol("cfg")+"/conf/app.conf" || info.Args[2] != "--who=env" {
		t.Errorf("args = %q, want the mount path rewritten and $(NAME) expanded", info.Args)
	}

	wantFiles := map[string]struct {
		content string
		mode    string
	}{
		vol("cfg") + "/conf/app.conf": {"a=1", "0600"},
		vol("cfg") + "/blob.bin":      {"\x00\x01\x02\xff", "0444"},
		vol("creds") + "/user":        {"alice", "0440"},
		vol("creds") + "/nested/pass": {"s3cret", "0400"},
		vol("cfg-all") + "/greeting":  {"hello", "0644"},
		claim + "/samples.jsonl":      {"{}\n", "0640"},
		claim + "/inner/x.txt":        {"x", "0640"},
	}
	for path, w := range wantFiles {
		got, ok := info.Files[path]
		switch {
		case !ok:
			t.Errorf("the process did not get %s (FAKEPOD_FILES was not rewritten?): %v", path, info.Files)
		case got.Error != "" || string(got.Content) != w.content || got.Mode != w.mode:
			t.Errorf("%s: content %q mode %s error %q, want %q mode %s", path, got.Content, got.Mode, got.Error, w.content, w.mode)
		}
	}
	if _, err := os.Stat(vol("cfg-all") + "/blob.bin"); err != nil {
		t.Errorf("a ConfigMap volume without items lacks a binaryData key: %v", err)
	}
	if _, err := os.Stat(vol("creds") + "/pass"); err == nil {
		t.Error("a Secret volume with items has a key at its default path")
	}
}

// Ready is reported only once the readiness probe passes; a process that exits 0 makes
// the pod Succeeded with its termination message; a finished pod deleted by the operator
// disappears.
func TestReadinessThenSuccess(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createPod(t, fakePod(ns, "ready", env("FAKEPOD_WAIT_READY", "1")))
	waitPod(t, ns, "ready", "Running", isRunning)
	// Three probe periods with the probe failing: still not Ready.
	time.Sleep(3 * time.Second)
	pod := waitPod(t, ns, "ready", "Running", isRunning)
	if isReady(pod) || pod.Status.ContainerStatuses[0].Ready {
		t.Fatalf("the pod is Ready while its probe fails: %+v", pod.Status)
	}
	if c := condition(pod, corev1.PodReady); c.Reason != reasonContainersNotReady || c.Message != "containers with unready status: [main]" {
		t.Errorf("Ready condition = %+v", c)
	}
	call(t, pod, http.MethodPost, "/ready")
	pod = waitPod(t, ns, "ready", "Ready", isReady)
	if !pod.Status.ContainerStatuses[0].Ready || conditionStatus(pod, corev1.ContainersReady) != corev1.ConditionTrue {
		t.Errorf("Ready without ready container: %+v", pod.Status)
	}

	call(t, pod, http.MethodPost, "/exit?code=0&message=all+done")
	pod = waitPod(t, ns, "ready", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	term := terminated(pod)
	if term == nil || term.ExitCode != 0 || term.Reason != "Completed" || term.Message != "all done" ||
		term.StartedAt.IsZero() || term.FinishedAt.Before(&term.StartedAt) {
		t.Errorf("terminated = %+v, want exit 0, Completed, message \"all done\" and times", term)
	}
	if c := condition(pod, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != reasonPodCompleted {
		t.Errorf("Ready condition after the end = %+v", c)
	}
	deletePod(t, ns, "ready", nil)
	waitGone(t, ns, "ready")
}

// A failing process fails the pod with its exit code and termination message (the
// file's last 4096 bytes), or with FallbackToLogsOnError and no message, its log's tail.
func TestFailure(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	long := strings.Repeat("x", 5000) + "END"
	for _, tc := range []struct {
		name        string
		env         []corev1.EnvVar
		policy      corev1.TerminationMessagePolicy
		wantCode    int32
		wantMessage string
		prefixOnly  bool // the log goes on after what the test prints
	}{
		{"message", []corev1.EnvVar{env("FAKEPOD_EXIT_CODE", "3"), env("FAKEPOD_MESSAGE", "bad sample on line 7")}, "", 3, "bad sample on line 7", false},
		{"long", []corev1.EnvVar{env("FAKEPOD_EXIT_CODE", "1"), env("FAKEPOD_MESSAGE", long)}, "", 1, long[len(long)-4096:], false},
		{"fallback", []corev1.EnvVar{env("FAKEPOD_EXIT_CODE", "4"), env("FAKEPOD_SAY", "connecting\nfatal: broker unreachable")},
			corev1.TerminationMessageFallbackToLogsOnError, 4, "connecting\nfatal: broker unreachable\n", true},
		{"no-fallback", []corev1.EnvVar{env("FAKEPOD_EXIT_CODE", "5"), env("FAKEPOD_SAY", "not a message")}, corev1.TerminationMessageReadFile, 5, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := fakePod(ns, tc.name, append(tc.env, env("FAKEPOD_EXIT_AFTER", "200ms"))...)
			pod.Spec.Containers[0].TerminationMessagePolicy = tc.policy
			createPod(t, pod)
			pod = waitPod(t, ns, tc.name, "Failed with the container terminated", func(p *corev1.Pod) bool { return isFailed(p) && isTerminated(p) })
			term := terminated(pod)
			message := term.Message
			if tc.prefixOnly {
				message = message[:min(len(message), len(tc.wantMessage))]
			}
			if term.ExitCode != tc.wantCode || term.Reason != "Error" || message != tc.wantMessage {
				t.Errorf("terminated = exit %d, reason %q, message %q; want exit %d, Error, %q", term.ExitCode, term.Reason, term.Message, tc.wantCode, tc.wantMessage)
			}
		})
	}
}

// The kubelet shares 12 KiB of termination messages between a pod's containers: with four,
// each keeps the first 3072 bytes of its file's last 4096.
func TestTerminationMessageBudget(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	long := strings.Repeat("x", 1000) + strings.Repeat("y", 4000) + "END"
	pod := fakePod(ns, "four", env("FAKEPOD_EXIT_CODE", "1"), env("FAKEPOD_MESSAGE", long), env("FAKEPOD_EXIT_AFTER", "200ms"))
	main := pod.Spec.Containers[0]
	main.ReadinessProbe = nil
	pod.Spec.Containers = nil
	for i, name := range []string{"a", "b", "c", "d"} {
		c := *main.DeepCopy()
		c.Name = name
		c.Ports[0].ContainerPort += int32(i) // each its own control port
		pod.Spec.Containers = append(pod.Spec.Containers, c)
	}
	createPod(t, pod)
	pod = waitPod(t, ns, "four", "Failed with every container terminated", func(p *corev1.Pod) bool {
		if !isFailed(p) || len(p.Status.ContainerStatuses) != 4 {
			return false
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Terminated == nil {
				return false
			}
		}
		return true
	})
	want := long[len(long)-4096:][:3072]
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Terminated.Message != want {
			t.Errorf("container %s: message of %d bytes ending %q, want the %d bytes ending %q", cs.Name,
				len(cs.State.Terminated.Message), cs.State.Terminated.Message[max(0, len(cs.State.Terminated.Message)-5):], len(want), want[len(want)-5:])
		}
	}
}

// A pod that ignores SIGTERM is killed once its grace period is over, then removed.
func TestDeletionKillsAfterGracePeriod(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	pod := fakePod(ns, "stubborn", env("FAKEPOD_IGNORE_TERM", "1"))
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](2)
	createPod(t, pod)
	waitPod(t, ns, "stubborn", "Ready", isReady)
	start := time.Now()
	deletePod(t, ns, "stubborn", nil)
	waitGone(t, ns, "stubborn")
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("the pod went after %s, before its grace period", took)
	}
	got := exits.get(ns, "stubborn")
	if len(got) != 1 || got[0].ExitCode != 137 || got[0].Signal != int32(syscall.SIGKILL) {
		t.Errorf("exit = %+v, want SIGKILL (137)", got)
	}
}

// A pod deleted with grace 0 vanishes from the API server at once; its process still
// gets SIGTERM.
func TestForceDeletion(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createPod(t, fakePod(ns, "forced"))
	waitPod(t, ns, "forced", "Ready", isReady)
	deletePod(t, ns, "forced", ptr.To[int64](0))
	_ = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, waitTimeout, true, func(context.Context) (bool, error) {
		return len(exits.get(ns, "forced")) > 0, nil
	}) // the check below says what came
	if got := exits.get(ns, "forced"); len(got) != 1 || got[0].Message != "stopped by SIGTERM" {
		t.Errorf("exit = %+v, want the SIGTERM message", got)
	}
}

// A foreground deletion adds the garbage collector's finalizer, which envtest has nobody
// to remove: the runner stands in for the collector, so the pod still goes.
func TestForegroundDeletion(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createPod(t, fakePod(ns, "foreground"))
	waitPod(t, ns, "foreground", "Ready", isReady)
	foreground := metav1.DeletePropagationForeground
	if err := kube.CoreV1().Pods(ns).Delete(context.Background(), "foreground", metav1.DeleteOptions{PropagationPolicy: &foreground}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ns, "foreground")
}

// Startup, readiness (tcpSocket) and liveness probes: a startup probe gates readiness;
// a failing liveness probe stops the container (with restartPolicy Never, for good).
func TestProbes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	gated := fakePod(ns, "gated")
	c := &gated.Spec.Containers[0]
	c.StartupProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(plan.ControlPort)}},
		PeriodSeconds: 1,
	}
	c.ReadinessProbe.ProbeHandler = corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(plan.ControlPortName)}}
	createPod(t, gated)
	unhealthy := fakePod(ns, "unhealthy")
	unhealthy.Spec.Containers[0].LivenessProbe = &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/missing", Port: intstr.FromString(plan.ControlPortName)}},
		PeriodSeconds:    1,
		FailureThreshold: 2,
	}
	createPod(t, unhealthy)

	pod := waitPod(t, ns, "gated", "Ready", isReady)
	if cs := pod.Status.ContainerStatuses[0]; cs.Started == nil || !*cs.Started {
		t.Errorf("Ready but not started: %+v", cs)
	}
	pod = waitPod(t, ns, "unhealthy", "the container terminated", isTerminated)
	if term := terminated(pod); term.Message != "stopped by SIGTERM" || pod.Status.Phase != corev1.PodSucceeded {
		t.Errorf("phase %s, terminated %+v: want the liveness probe to stop it with SIGTERM", pod.Status.Phase, term)
	}
}

// activeDeadlineSeconds ends a running pod, and a pod that cannot start, as the kubelet does.
func TestActiveDeadline(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	running := fakePod(ns, "running")
	running.Spec.ActiveDeadlineSeconds = ptr.To[int64](2)
	// Before the create: the runner may pick the pod up before createPod returns.
	start := time.Now()
	createPod(t, running)
	waiting := fakePod(ns, "waiting", corev1.EnvVar{Name: "MISSING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "never"}, Key: "k",
	}}})
	waiting.Spec.ActiveDeadlineSeconds = ptr.To[int64](1)
	createPod(t, waiting)

	for name, wantTerm := range map[string]struct {
		code        int32
		reason, msg string
	}{
		"running": {0, "Completed", "stopped by SIGTERM"},
		"waiting": {137, reasonStatusUnknown, messageStatusUnknown},
	} {
		pod := waitPod(t, ns, name, "Failed with the container terminated", func(p *corev1.Pod) bool { return isFailed(p) && isTerminated(p) })
		if took := time.Since(start); name == "running" && took < 2*time.Second {
			t.Errorf("the deadline of 2 s ended the pod after %s", took)
		}
		if pod.Status.Reason != reasonDeadlineExceeded || pod.Status.Message != messageDeadlineExceeded {
			t.Errorf("%s: reason %q, message %q", name, pod.Status.Reason, pod.Status.Message)
		}
		if term := terminated(pod); term.ExitCode != wantTerm.code || term.Reason != wantTerm.reason || term.Message != wantTerm.msg {
			t.Errorf("%s: terminated = %+v, want %+v", name, term, wantTerm)
		}
	}
}

// KillProcess simulates a crash: the pod fails with the signal's exit code, and the
// process leaves the list.
func TestKillProcess(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createPod(t, fakePod(ns, "victim"))
	pod := waitPod(t, ns, "victim", "Ready", isReady)
	var found *Process
	for _, p := range runner.Processes() {
		if p.Namespace == ns && p.Pod == "victim" {
			found = &p
		}
	}
	if found == nil || found.PID == 0 || found.PodIP.String() != pod.Status.PodIP || found.Container != "main" || found.UID != pod.UID {
		t.Fatalf("Processes() has %+v for the pod", found)
	}
	if err := runner.KillProcess(ns, "victim", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pod = waitPod(t, ns, "victim", "Failed", isFailed)
	term := terminated(pod)
	if term == nil || term.ExitCode != 137 || term.Signal != 9 || term.Reason != "Error" {
		t.Errorf("terminated = %+v, want exit code 137, signal 9, Error", term)
	}
	for _, p := range runner.Processes() {
		if p.Namespace == ns {
			t.Errorf("Processes() still lists %+v", p)
		}
	}
	if err := runner.KillProcess(ns, "victim", syscall.SIGKILL); !errors.Is(err, ErrNoProcess) {
		t.Errorf("KillProcess of an ended pod = %v, want ErrNoProcess", err)
	}
	if b, err := os.ReadFile(found.LogFile); err != nil || !strings.Contains(string(b), "fakepod: listening on") {
		t.Errorf("log file %s: %v %q", found.LogFile, err, b)
	}
}

// A pod whose ConfigMap does not exist waits in CreateContainerConfigError, as with
// the kubelet, and starts once the ConfigMap is created.
func TestWaitsForConfigMap(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	pod := fakePod(ns, "late", corev1.EnvVar{Name: "LATE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "late"}, Key: "k",
	}}})
	createPod(t, pod)
	pod = waitPod(t, ns, "late", "CreateContainerConfigError", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
	if w := pod.Status.ContainerStatuses[0].State.Waiting; pod.Status.Phase != corev1.PodPending || w.Message != `configmap "late" not found` || pod.Status.PodIP == "" {
		t.Errorf("phase %s, waiting %+v, podIP %q", pod.Status.Phase, w, pod.Status.PodIP)
	}
	createConfigMap(t, ns, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "late"}, Data: map[string]string{"k": "v"},
	})
	pod = waitPod(t, ns, "late", "Ready", isReady)
	if got := podInfo(t, pod).env()["LATE"]; got != "v" {
		t.Errorf("$LATE = %q", got)
	}
}

// Tens of pods at once, each on its own address, all reported.
func TestManyPods(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const n = 24
	for i := range n {
		name := fmt.Sprintf("pod-%d", i)
		createPod(t, fakePod(ns, name, env("FAKEPOD_EXIT_AFTER", "1500ms"), env("FAKEPOD_MESSAGE", name)))
	}
	ips := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("pod-%d", i)
		pod := waitPod(t, ns, name, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
		if term := terminated(pod); term == nil || term.Message != name {
			t.Errorf("%s: terminated = %+v", name, term)
		}
		if other, ok := ips[pod.Status.PodIP]; ok {
			t.Errorf("%s and %s share address %s", name, other, pod.Status.PodIP)
		}
		ips[pod.Status.PodIP] = name
	}
}

func createConfigMap(t *testing.T, namespace string, cm *corev1.ConfigMap) {
	t.Helper()
	if _, err := kube.CoreV1().ConfigMaps(namespace).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func createSecret(t *testing.T, namespace string, s *corev1.Secret) {
	t.Helper()
	if _, err := kube.CoreV1().Secrets(namespace).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func checkFile(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	st, err := os.Stat(name)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	b, err := os.ReadFile(name)
	if err != nil || string(b) != content || st.Mode().Perm() != mode {
		t.Errorf("%s: %q mode %v (%v), want %q mode %v", name, b, st.Mode().Perm(), err, content, mode)
	}
}

func isDir(name string) bool {
	st, err := os.Stat(name)
	return err == nil && st.IsDir()
}
