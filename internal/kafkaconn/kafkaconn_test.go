package kafkaconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/plan"
)

func cluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(2), kfake.SeedTopics(3, "in", "other")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func check(t *testing.T, k plan.Kafka, topics ...string) (map[string]int, error) {
	t.Helper()
	tr, err := Transport(k)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return CheckTopics(ctx, k, tr, topics...)
}

func TestCheckTopics(t *testing.T) {
	brokers := cluster(t)
	k := plan.Kafka{BootstrapServers: brokers}
	got, err := check(t, k, "in", "other", "in")
	if err != nil || got["in"] != 3 || got["other"] != 3 || len(got) != 2 {
		t.Fatalf("CheckTopics = %v, %v; want 3 partitions each", got, err)
	}
	_, err = check(t, k, "in", "nope", "gone")
	if err == nil || err.Error() != `topic "gone" does not exist; topic "nope" does not exist` {
		t.Errorf("CheckTopics with missing topics = %v", err)
	}
}

func TestUnreachableBrokers(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close() // nothing listens there now
	_, err = check(t, plan.Kafka{BootstrapServers: []string{addr}}, "in")
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach any of the brokers ["+addr+"]: ") {
		t.Errorf("CheckTopics = %v, want it to say the brokers cannot be reached", err)
	}
}

func secretFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSASL(t *testing.T) {
	brokers := cluster(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", "plain-pass"),
		kfake.Superuser("SCRAM-SHA-256", "user256", "pass256"),
		kfake.Superuser("SCRAM-SHA-512", "user512", "pass512"))
	for _, tc := range []struct {
		mechanism  streamreplayv1alpha1.SASLMechanism
		user, pass string
		wantErr    string
	}{
		{"PLAIN", "plain-user", "plain-pass\n", ""}, // a trailing newline is not part of it
		{"SCRAM-SHA-256", "user256", "pass256", ""},
		{"SCRAM-SHA-512", "user512", "pass512", ""},
		{"SCRAM-SHA-512", "user512", "wrong-password", "authentication failed"},
		{"GSSAPI", "u", "p", `unknown SASL mechanism "GSSAPI"`},
	} {
		t.Run(string(tc.mechanism)+"/"+tc.pass, func(t *testing.T) {
			k := plan.Kafka{BootstrapServers: brokers, SASL: &plan.SASL{
				Mechanism: tc.mechanism, UsernameFile: secretFile(t, "username", tc.user), PasswordFile: secretFile(t, "password", tc.pass),
			}}
			_, err := check(t, k, "in")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckTopics = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("CheckTopics = %v, want %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), tc.pass):
				t.Errorf("the error %q shows the password", err)
			}
		})
	}
}

func TestSASLFiles(t *testing.T) {
	_, err := SASLMechanism(&plan.SASL{Mechanism: "PLAIN", UsernameFile: "/nonexistent/username", PasswordFile: "/x"})
	if err == nil || !strings.Contains(err.Error(), "reading the SASL username file") {
		t.Errorf("SASLMechanism = %v", err)
	}
	_, err = SASLMechanism(&plan.SASL{Mechanism: "PLAIN", UsernameFile: secretFile(t, "u", "u"), PasswordFile: secretFile(t, "p", "\n")})
	if err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("SASLMechanism with an empty password = %v", err)
	}
	// The API's spelling only: admission refuses any other, so a plan with one is not the operator's.
	_, err = SASLMechanism(&plan.SASL{Mechanism: "scram-sha-512", UsernameFile: secretFile(t, "u", "u"), PasswordFile: secretFile(t, "p", "p")})
	if err == nil || !strings.Contains(err.Error(), `unknown SASL mechanism "scram-sha-512"; want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM`) {
		t.Errorf("SASLMechanism with a lower-case mechanism = %v", err)
	}
}

// testCA writes a CA certificate and returns its file and a server certificate for
// 127.0.0.1 signed by it.
func testCA(t *testing.T) (string, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"kafka.test"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := secretFile(t, "ca.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestTLS(t *testing.T) {
	caFile, cert := testCA(t)
	brokers := cluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))

	if _, err := check(t, plan.Kafka{BootstrapServers: brokers, TLS: &plan.TLS{CAFile: caFile}}, "in"); err != nil {
		t.Errorf("CheckTopics over TLS = %v", err)
	}
	if _, err := check(t, plan.Kafka{BootstrapServers: brokers, TLS: &plan.TLS{CAFile: caFile, ServerName: "kafka.test"}}, "in"); err != nil {
		t.Errorf("CheckTopics over TLS with a server name = %v", err)
	}
	_, err := check(t, plan.Kafka{BootstrapServers: brokers, TLS: &plan.TLS{}}, "in") // system roots
	if err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("CheckTopics without the CA = %v, want a certificate error", err)
	}
	_, err = check(t, plan.Kafka{BootstrapServers: brokers, TLS: &plan.TLS{CAFile: secretFile(t, "bad.crt", "not PEM")}}, "in")
	if err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("CheckTopics with a bad CA file = %v", err)
	}
	_, err = TLSConfig(&plan.TLS{CertFile: "/c"})
	if err == nil || !strings.Contains(err.Error(), "both a certificate file and a key file") {
		t.Errorf("TLSConfig with a certificate but no key = %v", err)
	}
}

func TestDialer(t *testing.T) {
	d, err := Dialer(plan.Kafka{BootstrapServers: []string{"k:9092"}, ClientID: "me"})
	if err != nil || d.ClientID != "me" || d.TLS != nil || d.SASLMechanism != nil {
		t.Errorf("Dialer = %+v, %v", d, err)
	}
}

// TestSASLUsernameGiven: a Strimzi KafkaUser's Secret holds no username key; the plan then
// carries the user name (the KafkaUser's name) and only the password is read from a file.
func TestSASLUsernameGiven(t *testing.T) {
	brokers := cluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "loadgen", "strimzi-pass"))
	for _, tc := range []struct {
		user, wantErr string
	}{
		{"loadgen", ""},
		{"someone-else", "authentication failed"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			k := plan.Kafka{BootstrapServers: brokers, SASL: &plan.SASL{
				Mechanism: "SCRAM-SHA-512", Username: tc.user, PasswordFile: secretFile(t, "password", "strimzi-pass"),
			}}
			_, err := check(t, k, "in")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckTopics = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("CheckTopics = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
