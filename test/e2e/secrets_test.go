package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/streamreplay/streamreplay/internal/plan"
	"github.com/streamreplay/streamreplay/internal/sandbox"
	"github.com/streamreplay/streamreplay/test/cluster/scenario"
)

// The secrets test's names: a LoadTest that authenticates with the right password and one
// whose Secret holds a wrong one, against a second, SASL-only Kafka.
const (
	saslUser          = scenario.SASLUser
	saslTopic         = "secure.cdc"
	saslSecret        = "kafka-user"
	saslWrongSecret   = "kafka-user-wrong"
	saslLoadTest      = "crm-cdc-sasl"
	saslWrongLoadTest = "crm-cdc-sasl-wrong"
	saslWorkers       = 2
	saslVolumeName    = "kafka-sasl"
	saslContainer     = "replay"
	controlVolumeName = "control"
	// scramSHA512 is the mechanism's name for kfake and for the LoadTest.
	scramSHA512 = "SCRAM-SHA-512"
)

// TestSecretsStayOutOfArgsEnvStatusEventsAndLogs runs a LoadTest against a Kafka that
// requires SCRAM-SHA-512, and another with a wrong password, then looks for both
// passwords, the operator's control key and both runs' control tokens everywhere a user
// or another tenant could read them: the pods as the API server has them (args, command,
// env), the processes' real command lines and environments, the LoadTests' status, the
// Events, the ConfigMaps, the pods' logs, termination messages and folders, and the
// sandbox's own log. A Secret may only reach a pod as a volume that names it.
func TestSecretsStayOutOfArgsEnvStatusEventsAndLogs(t *testing.T) {
	password, wrongPassword := randomPassword(t), randomPassword(t)
	scanner := newSecretScanner(
		secretValue{what: "the password of Secret " + saslSecret, value: password},
		secretValue{what: "the wrong password of Secret " + saslWrongSecret, value: wrongPassword},
	)
	redactFromOutput(scanner.forms()...)
	checkScannerFindsPlantedSecrets(t, scanner)

	// A second Kafka that only speaks SCRAM-SHA-512 to a user whose password is random.
	brokers := saslKafka(t, password)

	applySamples(t)
	createSASLSecret(t, saslSecret, password)
	createSASLSecret(t, saslWrongSecret, wrongPassword)
	checkSecretHolds(t, scanner, saslSecret, password)
	checkSecretHolds(t, scanner, saslWrongSecret, wrongPassword)

	key := controlKey(t)
	addSecret(scanner, secretValue{what: "the operator's control key", value: string(key)})

	mustKubectl(t, "apply", "--server-side", "-f", saslManifest(t, saslLoadTest, saslSecret, brokers))
	mustKubectl(t, "apply", "--server-side", "-f", saslManifest(t, saslWrongLoadTest, saslWrongSecret, brokers))
	// The runs' control tokens, as the operator computes them, and as their Secrets hold them.
	tokens := map[string]string{}
	for _, lt := range []string{saslLoadTest, saslWrongLoadTest} {
		tokens[lt] = key.Token(jsonpath(t, lt, "{.metadata.uid}"))
		addSecret(scanner, secretValue{what: "the control token of LoadTest " + lt, value: tokens[lt]})
		checkControlSecret(t, scanner, lt, tokens[lt])
	}
	live := &liveProcesses{scanner: scanner, seen: map[string]bool{}}
	phases := waitFinished(t, []string{saslLoadTest, saslWrongLoadTest}, live.sample)

	// Positive controls: the right password authenticates, the wrong one does not.
	if phases[saslLoadTest] != "Passed" {
		t.Errorf("LoadTest %s ended %s, want Passed: %s", saslLoadTest, phases[saslLoadTest], redact(jsonpath(t, saslLoadTest, "{.status.message}")))
	} else {
		doc := resultsDocument(t, saslLoadTest)
		if doc.Totals.Acked == 0 || doc.Totals.Failed != 0 {
			t.Errorf("totals %+v: with the right password every record should be acknowledged, and some sent", doc.Totals)
		}
		if got := countTopicRecords(t, brokers, password); got != doc.Totals.Acked {
			t.Errorf("%d records in %s of the SASL Kafka, %d acknowledged", got, saslTopic, doc.Totals.Acked)
		}
		t.Logf("%s: %d records acknowledged by the SASL Kafka", saslLoadTest, doc.Totals.Acked)
	}
	if phases[saslWrongLoadTest] != "Error" {
		t.Errorf("LoadTest %s with a wrong password ended %s, want Error", saslWrongLoadTest, phases[saslWrongLoadTest])
	}
	message := jsonpath(t, saslWrongLoadTest, "{.status.message}")
	if !strings.Contains(message, "authentication failed") {
		t.Errorf("the message of %s does not say authentication failed: %q", saslWrongLoadTest, redact(message))
	}
	if strings.Contains(message, password) || strings.Contains(message, wrongPassword) {
		t.Errorf("the message of %s shows a password: %q", saslWrongLoadTest, redact(message))
	}
	t.Logf("%s: %s", saslWrongLoadTest, redact(message))
	for i := range saslWorkers {
		if pod := fmt.Sprintf("%s-worker-%d", saslLoadTest, i); !live.seen[pod] {
			t.Errorf("the process of pod %s was not seen running: its command line and environment were not scanned", pod)
		}
	}

	// The scan.
	inAPI := checkPods(t, scanner, map[string]string{saslLoadTest: saslSecret, saslWrongLoadTest: saslWrongSecret})
	// Every pod the runner ran, deleted ones too: their folders stay.
	var pods []string
	for _, lt := range []string{saslLoadTest, saslWrongLoadTest} {
		for i := range saslWorkers {
			pods = append(pods, fmt.Sprintf("%s-worker-%d", lt, i))
		}
	}
	checkObjects(t, scanner, "loadtests", "LoadTest", []string{saslLoadTest, saslWrongLoadTest})
	checkObjects(t, scanner, "configmaps", "ConfigMap", []string{saslLoadTest + "-results"})
	checkEvents(t, scanner)
	checkPodFiles(t, scanner, pods, inAPI, map[string]string{saslLoadTest: password, saslWrongLoadTest: wrongPassword}, tokens)
	checkSandboxLog(t, scanner, pods)

	for _, f := range scanner.findings {
		t.Error(f)
	}
	if len(scanner.findings) == 0 {
		t.Logf("no password found in:\n  %s", strings.Join(scanner.scanned, "\n  "))
	}
}

// randomPassword is 32 random letters and digits, new on each run.
func randomPassword(t *testing.T) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, 32)
	buf := make([]byte, 64)
	for len(out) < 32 {
		if _, err := rand.Read(buf); err != nil {
			t.Fatal(err)
		}
		for _, b := range buf {
			// Drop the bytes above the last whole multiple of the alphabet: no bias.
			if int(b) < 256-256%len(alphabet) && len(out) < 32 {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// saslKafka starts a Kafka that only speaks SCRAM-SHA-512 to saslUser with password, with
// topic saslTopic, and checks that it refuses a client without SASL. It returns its brokers.
func saslKafka(t *testing.T, password string) []string {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(0), // a free port on 127.0.0.1
		kfake.EnableSASL(),
		kfake.Superuser(scramSHA512, saslUser, password),
		kfake.SeedTopics(3, saslTopic),
	)
	if err != nil {
		t.Fatalf("starting the SASL Kafka: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	checkKafkaRequiresSASL(t, brokers, password)
	return brokers
}

func createSASLSecret(t *testing.T, name, password string) {
	t.Helper()
	scenario.CreateSASLSecret(t, cluster{}, name, password)
}

// checkSecretHolds checks that the Secret holds the password, and that the scanner finds
// it there (in its base64 form): a scanner that finds nothing anywhere proves nothing.
func checkSecretHolds(t *testing.T, scanner *secretScanner, name, password string) {
	t.Helper()
	raw := mustKubectl(t, "get", "secret", name, "-o", "json")
	var s corev1.Secret
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatalf("Secret %s: %v", name, err)
	}
	if string(s.Data["password"]) != password {
		t.Errorf("Secret %s does not hold the password the test generated", name)
	}
	probe := scanner.probe()
	probe.scanJSON("Secret "+name, []byte(raw))
	if len(probe.findings) != 1 || !strings.Contains(probe.findings[0], ".data.password") {
		t.Errorf("the scanner should find the password once, at .data.password, in Secret %s; it found %d times: %s",
			name, len(probe.findings), strings.Join(probe.findings, "; "))
	}
}

// addSecret makes the scanner look for one more value, hidden from the test's output.
func addSecret(scanner *secretScanner, v secretValue) {
	scanner.secrets = append(scanner.secrets, v)
	redactFromOutput(scanner.forms()...)
}

// checkControlSecret checks that the run's control Secret holds the token the operator
// computes, owned by its LoadTest, and that the scanner finds it there.
func checkControlSecret(t *testing.T, scanner *secretScanner, lt, token string) {
	t.Helper()
	name := lt + "-control"
	raw := mustKubectl(t, "get", "secret", name, "-o", "json")
	var s corev1.Secret
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatalf("Secret %s: %v", name, err)
	}
	if string(s.Data["token"]) != token {
		t.Errorf("Secret %s does not hold HMAC(control key, run id)", name)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Name != lt || s.OwnerReferences[0].Kind != "LoadTest" {
		t.Errorf("Secret %s is owned by %+v, want its LoadTest %s", name, s.OwnerReferences, lt)
	}
	probe := scanner.probe()
	probe.scanJSON("Secret "+name, []byte(raw))
	if len(probe.findings) != 1 || !strings.Contains(probe.findings[0], ".data.token") {
		t.Errorf("the scanner should find the token once, at .data.token, in Secret %s; it found %d times: %s",
			name, len(probe.findings), strings.Join(probe.findings, "; "))
	}
}

// checkScannerFindsPlantedSecrets plants both passwords (one raw, one base64) in a file
// and checks that the scanner finds each, on its line.
func checkScannerFindsPlantedSecrets(t *testing.T, scanner *secretScanner) {
	t.Helper()
	planted := filepath.Join(t.TempDir(), "planted.log")
	content := "a first line\n" +
		`{"level":"info","msg":"connecting","password":"` + scanner.secrets[0].value + `"}` + "\n" +
		"nothing here\n" +
		"SASL_CONFIG=" + base64.StdEncoding.EncodeToString([]byte(scanner.secrets[1].value)) + "\n"
	if err := os.WriteFile(planted, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	probe := scanner.probe()
	probe.scanFile("planted file", planted)
	if len(probe.findings) != 2 ||
		!strings.Contains(probe.findings[0], scanner.secrets[0].what) || !strings.Contains(probe.findings[0], "line 2") ||
		!strings.Contains(probe.findings[1], scanner.secrets[1].what) || !strings.Contains(probe.findings[1], "line 4") {
		t.Fatalf("the scanner does not find the passwords planted on lines 2 and 4 of a file; it found: %s", strings.Join(probe.findings, "; "))
	}
	for _, f := range probe.findings {
		if strings.Contains(f, scanner.secrets[0].value) || strings.Contains(f, scanner.secrets[1].value) {
			t.Fatal("the scanner's findings show the password they found")
		}
	}
}

// checkKafkaRequiresSASL makes sure the second Kafka refuses a client without SASL and
// answers one with the password, so that a LoadTest that passes did authenticate.
func checkKafkaRequiresSASL(t *testing.T, brokers []string, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	anonymous := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{}}
	if _, err := anonymous.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{saslTopic}}); err == nil {
		t.Fatal("the SASL Kafka answered a client without SASL")
	}
	mechanism, err := scram.Mechanism(scram.SHA512, saslUser, password)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{SASL: mechanism}}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{saslTopic}})
	if err != nil {
		t.Fatalf("the SASL Kafka does not answer its user: %v", err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].Error != nil || len(resp.Topics[0].Partitions) != 3 {
		t.Fatalf("the SASL Kafka's metadata for %s: %+v", saslTopic, resp.Topics)
	}
}

// countTopicRecords sums the last offsets of the SASL Kafka's topic: the records written.
func countTopicRecords(t *testing.T, brokers []string, password string) int64 {
	t.Helper()
	mechanism, err := scram.Mechanism(scram.SHA512, saslUser, password)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &kafka.Dialer{Timeout: 10 * time.Second, SASLMechanism: mechanism}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var n int64
	for p := range 3 {
		conn, err := dialer.DialLeader(ctx, "tcp", brokers[0], saslTopic, p)
		if err != nil {
			t.Fatalf("reading %s/%d of the SASL Kafka: %v", saslTopic, p, err)
		}
		last, err := conn.ReadLastOffset()
		_ = conn.Close()
		if err != nil {
			t.Fatalf("reading %s/%d of the SASL Kafka: %v", saslTopic, p, err)
		}
		n += last
	}
	return n
}

// saslManifest is a LoadTest against the SASL Kafka, without DLQ or pipeline (so without
// observer) and without thresholds. Its pods stay for the scan.
func saslManifest(t *testing.T, name, secret string, brokers []string) string {
	t.Helper()
	quoted := make([]string, len(brokers))
	for i, b := range brokers {
		quoted[i] = strconv.Quote(b)
	}
	doc := fmt.Sprintf(`apiVersion: streamreplay.io/v1alpha1
kind: LoadTest
metadata:
  name: %s
spec:
  targetRate: 200
  duration: 5s
  workers: %d
  sampleSet:
    configMapRef: {name: crm-cdc-samples, key: samples.jsonl.gz}
    format: JSONLines
    loop: true
  kafka:
    bootstrapServers: [%s]
    sasl:
      mechanism: %s
      secretRef: {name: %s}
  target:
    topic: %s
  timeouts:
    podsReady: 1m
  cleanup:
    policy: Never
`, name, saslWorkers, strings.Join(quoted, ", "), scramSHA512, secret, saslTopic)
	p := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFinished polls the LoadTests until each reached a final phase, calling tick on
// each round, and returns their phases.
func waitFinished(t *testing.T, names []string, tick func(t *testing.T)) map[string]string {
	t.Helper()
	const timeout = 4 * time.Minute
	var phases map[string]string
	if err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		tick(t)
		out := mustKubectl(t, append(append([]string{"get", "loadtests"}, names...),
			"-o", `jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}`)...)
		phases = map[string]string{}
		for line := range strings.Lines(out) {
			name, phase, _ := strings.Cut(strings.TrimSpace(line), "=")
			phases[name] = phase
		}
		for _, n := range names {
			switch phases[n] {
			case "Passed", "Failed", "Error", "Aborted":
			default:
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		t.Fatalf("LoadTests not finished after %s: %v", timeout, phases)
	}
	return phases
}

// liveProcesses scans the command line and environment of the running processes of the
// test's pods, as the operating system gave them to the program.
type liveProcesses struct {
	scanner *secretScanner
	seen    map[string]bool // by pod name
}

func (l *liveProcesses) sample(t *testing.T) {
	t.Helper()
	for _, p := range sbx.Runner().Processes() {
		if p.Namespace != sandbox.Namespace || l.seen[p.Pod] ||
			!strings.HasPrefix(p.Pod, saslLoadTest+"-worker-") && !strings.HasPrefix(p.Pod, saslWrongLoadTest+"-worker-") {
			continue
		}
		proc := fmt.Sprintf("/proc/%d", p.PID)
		cmdline, err1 := os.ReadFile(filepath.Join(proc, "cmdline"))
		environ, err2 := os.ReadFile(filepath.Join(proc, "environ"))
		if err1 != nil || err2 != nil || len(cmdline) == 0 {
			continue // it ended meanwhile
		}
		where := fmt.Sprintf("process %d of pod %s", p.PID, p.Pod)
		for i, arg := range strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00") {
			l.scanner.scanText(fmt.Sprintf("%s, argument %d", where, i), arg)
		}
		var planSeen, tokenFileSeen bool
		for _, arg := range strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00") {
			tokenFileSeen = tokenFileSeen || strings.HasPrefix(arg, "--control-token-file=") && strings.HasSuffix(arg, "/volumes/control/token")
		}
		if !tokenFileSeen {
			t.Errorf("%s: no --control-token-file naming the mounted token", where)
		}
		for _, kv := range strings.Split(strings.TrimRight(string(environ), "\x00"), "\x00") {
			name, value, _ := strings.Cut(kv, "=")
			l.scanner.scanText(fmt.Sprintf("%s, environment variable %s", where, name), value)
			if name == plan.EnvPlan {
				planSeen = strings.Contains(value, saslVolumeName+"/password")
			}
		}
		if !planSeen {
			t.Errorf("%s: %s does not name the mounted password file", where, plan.EnvPlan)
		}
		l.seen[p.Pod] = true
		l.scanner.scanned = append(l.scanner.scanned, where+" (command line, environment)")
	}
}

// checkPods scans the pods as the API server has them and checks that each Secret reaches
// its LoadTest's pods as a volume that names it, and never through the environment. It
// returns the names of the test's pods.
func checkPods(t *testing.T, scanner *secretScanner, secretOf map[string]string) []string {
	t.Helper()
	raw := mustKubectl(t, "get", "pods", "-o", "json")
	n := scanner.scanList("Pod", []byte(raw))
	var list corev1.PodList
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		t.Fatalf("pods: %v", err)
	}
	var names []string
	count := map[string]int{}
	for i := range list.Items {
		pod := &list.Items[i]
		lt := pod.Labels["streamreplay.io/loadtest"]
		secret, ours := secretOf[lt]
		if !ours {
			continue
		}
		names = append(names, pod.Name)
		count[lt]++
		checkPodSpec(t, pod, secret)
		if !strings.Contains(pod.Name, "-worker-") {
			t.Errorf("pod %s: a LoadTest without DLQ or pipeline should have workers only", pod.Name)
		}
	}
	// The operator stops the pods still running when a LoadTest ends in Error: the wrong
	// password's LoadTest keeps at least the pod whose failure ended it.
	for lt := range secretOf {
		if count[lt] != saslWorkers && (lt == saslLoadTest || count[lt] == 0) {
			t.Errorf("LoadTest %s has %d pods, want %d", lt, count[lt], saslWorkers)
		}
	}
	slices.Sort(names)
	scanner.scanned = append(scanner.scanned, fmt.Sprintf("%d pods (kubectl get pods -o json), of which %v", n, names))
	return names
}

func checkPodSpec(t *testing.T, pod *corev1.Pod, secret string) {
	t.Helper()
	containers := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	for i := range pod.Spec.EphemeralContainers {
		containers = append(containers, corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	for _, c := range containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				t.Errorf("pod %s, container %s: environment variable %s comes from Secret %s", pod.Name, c.Name, e.Name, e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				t.Errorf("pod %s, container %s: the environment comes from Secret %s", pod.Name, c.Name, e.SecretRef.Name)
			}
		}
	}
	var volume *corev1.Volume
	lt := pod.Labels["streamreplay.io/loadtest"]
	for i := range pod.Spec.Volumes {
		if s := pod.Spec.Volumes[i].Secret; s != nil {
			if s.SecretName == lt+"-control" && pod.Spec.Volumes[i].Name == controlVolumeName {
				continue // the run's control token
			}
			if s.SecretName != secret || volume != nil {
				t.Errorf("pod %s mounts Secret %s as volume %s; want only %s", pod.Name, s.SecretName, pod.Spec.Volumes[i].Name, secret)
				continue
			}
			volume = &pod.Spec.Volumes[i]
		}
	}
	if volume == nil {
		t.Errorf("pod %s does not mount Secret %s", pod.Name, secret)
		return
	}
	wantMount := path.Join(plan.SecretsDir, volume.Name)
	var mounted, planned bool
	for _, c := range pod.Spec.Containers {
		if c.Name != saslContainer {
			continue
		}
		for _, m := range c.VolumeMounts {
			mounted = mounted || m.Name == volume.Name && m.MountPath == wantMount && m.ReadOnly
		}
		for _, e := range c.Env {
			if e.Name != plan.EnvPlan {
				continue
			}
			p, err := plan.Decode(e.Value)
			if err != nil {
				t.Errorf("pod %s: %v", pod.Name, err)
				continue
			}
			planned = p.Kafka.SASL != nil && p.Kafka.SASL.Mechanism == scramSHA512 &&
				p.Kafka.SASL.UsernameFile == path.Join(wantMount, "username") && p.Kafka.SASL.PasswordFile == path.Join(wantMount, "password")
		}
	}
	if !planned {
		t.Errorf("pod %s: the plan in %s does not name the mounted username and password files", pod.Name, plan.EnvPlan)
	}
	if !mounted {
		t.Errorf("pod %s does not mount volume %s read-only at %s", pod.Name, volume.Name, wantMount)
	}
}

// checkObjects scans every object of a kind in the namespace and checks that the named
// ones are among them.
func checkObjects(t *testing.T, scanner *secretScanner, resource, kind string, want []string) {
	t.Helper()
	raw := mustKubectl(t, "get", resource, "-o", "json")
	n := scanner.scanList(kind, []byte(raw))
	names := strings.Fields(mustKubectl(t, "get", resource, "-o", "jsonpath={.items[*].metadata.name}"))
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("no %s %s among %v", kind, w, names)
		}
	}
	scanner.scanned = append(scanner.scanned, fmt.Sprintf("%d %ss", n, kind))
}

// checkEvents scans the Events of both APIs and checks that the operator recorded some
// for both LoadTests.
func checkEvents(t *testing.T, scanner *secretScanner) {
	t.Helper()
	raw := mustKubectl(t, "get", "events.events.k8s.io", "-o", "json")
	n := scanner.scanList("Event (events.k8s.io)", []byte(raw))
	var list eventsv1.EventList
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		t.Fatalf("events: %v", err)
	}
	about := map[string]int{}
	for _, e := range list.Items {
		about[e.Regarding.Name]++
	}
	coreRaw := mustKubectl(t, "get", "events", "-o", "json")
	coreN := scanner.scanList("Event (core/v1)", []byte(coreRaw))
	var coreList corev1.EventList
	if err := json.Unmarshal([]byte(coreRaw), &coreList); err != nil {
		t.Fatalf("events: %v", err)
	}
	coreAbout := map[string]int{}
	for _, e := range coreList.Items {
		coreAbout[e.InvolvedObject.Name]++
	}
	for _, lt := range []string{saslLoadTest, saslWrongLoadTest} {
		if about[lt] == 0 || coreAbout[lt] == 0 {
			t.Errorf("no Event about LoadTest %s (%d in events.k8s.io, %d in core/v1)", lt, about[lt], coreAbout[lt])
		}
	}
	scanner.scanned = append(scanner.scanned, fmt.Sprintf("%d Events (events.k8s.io), %d Events (core/v1)", n, coreN))
}

// checkPodFiles scans each pod's folder in the pod runner: the container's log, its
// termination-log file and every volume but the mounted Secrets, where the password and
// the token are expected and checked. The runner removes the volumes of a deleted pod
// (inAPI lists those that are not); its logs stay.
func checkPodFiles(t *testing.T, scanner *secretScanner, pods, inAPI []string, passwordOf, tokenOf map[string]string) {
	t.Helper()
	for _, pod := range pods {
		dir, ok := sbx.Runner().PodDir(sandbox.Namespace, pod)
		if !ok {
			t.Errorf("the pod runner did not run pod %s", pod)
			continue
		}
		logFile, err := sbx.Runner().LogFile(sandbox.Namespace, pod, saslContainer)
		if err != nil {
			t.Error(err)
			continue
		}
		if info, err := os.Stat(logFile); err != nil || info.Size() == 0 {
			t.Errorf("pod %s has no log to scan in %s (%v)", pod, logFile, err)
		}
		if _, err := os.Stat(filepath.Join(dir, saslContainer+".termination-log")); err != nil {
			t.Errorf("pod %s has no termination-log file to scan: %v", pod, err)
		}
		secretDir, tokenDir := filepath.Join("volumes", saslVolumeName), filepath.Join("volumes", controlVolumeName)
		files := scanner.scanTree("pod "+pod+"'s folder", dir, func(rel string) bool {
			return rel == secretDir || rel == tokenDir
		})
		scanner.scanned = append(scanner.scanned, fmt.Sprintf("pod %s's log, termination log and folder (%d files)", pod, files))

		if !slices.Contains(inAPI, pod) {
			continue
		}
		lt, _, _ := strings.Cut(pod, "-worker-")
		mounted, err := os.ReadFile(filepath.Join(dir, secretDir, "password"))
		if err != nil || string(mounted) != passwordOf[lt] {
			t.Errorf("pod %s: the mounted password file does not hold the Secret's password (%v)", pod, err)
		}
		token := filepath.Join(dir, tokenDir, "token")
		mounted, err = os.ReadFile(token)
		if info, statErr := os.Stat(token); err != nil || statErr != nil || string(mounted) != tokenOf[lt] || info.Mode().Perm() != 0o440 {
			t.Errorf("pod %s: the mounted token file does not hold the run's token with mode 0440 (%v)", pod, err)
		}
	}
}

// checkSandboxLog scans the log of the operator, the pod runner and the pipelines.
func checkSandboxLog(t *testing.T, scanner *secretScanner, pods []string) {
	t.Helper()
	data, err := os.ReadFile(sandboxLog)
	if err != nil {
		t.Fatalf("reading the sandbox log: %v", err)
	}
	for _, pod := range pods {
		if !bytes.Contains(data, []byte(pod)) {
			t.Errorf("the sandbox log %s does not mention pod %s: is it the right file?", sandboxLog, pod)
		}
	}
	scanner.scanFile("the sandbox log "+sandboxLog, sandboxLog)
	scanner.scanned = append(scanner.scanned, fmt.Sprintf("the sandbox log (%d bytes)", len(data)))
}

// secretValue is a value that must not leak, and how to name it in a finding.
type secretValue struct{ what, value string }

// secretScanner looks for secrets, raw or base64-encoded, and records where it found
// them without ever showing them.
type secretScanner struct {
	secrets  []secretValue
	findings []string
	scanned  []string
}

func newSecretScanner(secrets ...secretValue) *secretScanner {
	return &secretScanner{secrets: secrets}
}

// probe is a scanner for the same secrets with its own findings.
func (s *secretScanner) probe() *secretScanner { return newSecretScanner(s.secrets...) }

// encodings of a secret: as is, and base64 (without the padding, which depends on what follows).
var encodings = []struct {
	name   string
	encode func(string) string
}{
	{"", func(v string) string { return v }},
	{"base64 of ", func(v string) string {
		return strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(v)), "=")
	}},
}

// forms are every secret in every encoding.
func (s *secretScanner) forms() []string {
	out := make([]string, 0, len(s.secrets)*len(encodings))
	for _, sec := range s.secrets {
		for _, e := range encodings {
			out = append(out, e.encode(sec.value))
		}
	}
	return out
}

// scanText records a finding for each secret found in text, with the text around it.
func (s *secretScanner) scanText(where, text string) {
	for _, sec := range s.secrets {
		for _, e := range encodings {
			form := e.encode(sec.value)
			if i := strings.Index(text, form); i >= 0 {
				s.findings = append(s.findings, fmt.Sprintf("found %s%s in %s: %s", e.name, sec.what, where, snippet(text, i, len(form))))
			}
		}
	}
}

// snippet is the text around a finding, on one line, with every secret hidden: each side
// is redacted whole before it is cut, so that no secret shows even in part at the cut.
func snippet(text string, at, length int) string {
	const around = 60
	before, after := redact(text[:at]), redact(text[at+length:])
	before, after = before[max(0, len(before)-around):], after[:min(len(after), around)]
	return strconv.Quote("…" + before + "«redacted»" + after + "…")
}

// scanFile scans a file line by line, naming the lines.
func (s *secretScanner) scanFile(where, name string) {
	f, err := os.Open(name)
	if err != nil {
		s.findings = append(s.findings, fmt.Sprintf("cannot scan %s: %v", where, err))
		return
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		text, err := r.ReadString('\n')
		if text != "" {
			s.scanText(fmt.Sprintf("%s, line %d", where, line), text)
		}
		if err != nil {
			return
		}
	}
}

// scanTree scans every file under dir but the folders skip selects (by path relative
// to dir) and returns how many files it scanned.
func (s *secretScanner) scanTree(where, dir string, skip func(rel string) bool) int {
	var files int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && skip(rel) {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files++
			s.scanFile(where+": "+rel, p)
		}
		return nil
	})
	if err != nil {
		s.findings = append(s.findings, fmt.Sprintf("cannot scan %s: %v", where, err))
	}
	return files
}

// scanList scans each item of a List in JSON, naming the item and the field, and
// returns the number of items.
func (s *secretScanner) scanList(kind string, raw []byte) int {
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		s.findings = append(s.findings, fmt.Sprintf("cannot scan the %ss: %v", kind, err))
		return 0
	}
	for _, item := range list.Items {
		var meta struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		_ = json.Unmarshal(item, &meta)
		s.scanJSON(kind+" "+meta.Metadata.Name, item)
	}
	return len(list.Items)
}

// scanJSON scans every key and string of a JSON document, naming its path; what JSON
// escaping would hide is caught on the raw bytes.
func (s *secretScanner) scanJSON(where string, raw []byte) {
	var doc any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		s.findings = append(s.findings, fmt.Sprintf("cannot scan %s: %v", where, err))
		return
	}
	before := len(s.findings)
	s.walk(where, "", doc)
	if len(s.findings) == before {
		s.scanText(where+" (raw JSON)", string(raw))
	}
}

func (s *secretScanner) walk(where, at string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			s.scanText(fmt.Sprintf("%s, key %s.%s", where, at, k), k)
			s.walk(where, at+"."+k, v[k])
		}
	case []any:
		for i, e := range v {
			s.walk(where, fmt.Sprintf("%s[%d]", at, i), e)
		}
	case string:
		s.scanText(fmt.Sprintf("%s, at %s", where, at), v)
	}
}
