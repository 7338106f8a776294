package kafkaconn

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	signer "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamreplay/streamreplay/internal/plan"
)

// Static credentials the test gives the pod's default AWS chain through its environment,
// as IRSA or EKS Pod Identity would give real ones.
const (
	testAccessKeyID = "AKIASTREAMREPLAYTEST"
	testSecretKey   = "streamreplay/secret+access/key"
	testSessionTok  = "streamreplay-session-token"
)

// mskDouble is a broker that speaks MSK's IAM authentication: kfake serves Kafka, and its
// SaslHandshake and SaslAuthenticate are answered here, as MSK does: the mechanism must be
// AWS_MSK_IAM, and the payload a SigV4-presigned kafka-cluster:Connect request for this
// broker's host, signed with the expected credentials in the expected region. A payload
// that fails a check gets SASL_AUTHENTICATION_FAILED.
type mskDouble struct {
	brokers []string
	region  string
	keyID   string

	mu       sync.Mutex
	accepted int
	problems []string
}

func newMSKDouble(t *testing.T, region, keyID string) (*mskDouble, string) {
	t.Helper()
	caFile, cert := testCA(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	d := &mskDouble{brokers: c.ListenAddrs(), region: region, keyID: keyID}
	c.ControlKey(int16(kmsg.SASLHandshake), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLHandshakeRequest)
		resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SetVersion(r.GetVersion())
		resp.SupportedMechanisms = []string{"AWS_MSK_IAM"}
		if r.Mechanism != "AWS_MSK_IAM" {
			d.problem(fmt.Sprintf("handshake with mechanism %q", r.Mechanism))
			resp.ErrorCode = 33 // UNSUPPORTED_SASL_MECHANISM
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.SetVersion(r.GetVersion())
		if err := d.verify(r.SASLAuthBytes); err != nil {
			d.problem(err.Error())
			resp.ErrorCode = 58 // SASL_AUTHENTICATION_FAILED
			msg := "Access denied"
			resp.ErrorMessage = &msg
			return resp, nil, true
		}
		d.mu.Lock()
		d.accepted++
		d.mu.Unlock()
		return resp, nil, true
	})
	return d, caFile
}

func (d *mskDouble) problem(p string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.problems = append(d.problems, p)
}

// verify checks an AWS_MSK_IAM payload the way MSK does: the fields of aws-msk-iam-auth's
// JSON, and the signature recomputed from the request it presigns.
func (d *mskDouble) verify(payload []byte) error {
	var m map[string]string
	if err := json.Unmarshal(payload, &m); err != nil {
		return fmt.Errorf("payload is not a JSON object of strings: %w", err)
	}
	host, _, _ := net.SplitHostPort(d.brokers[0])
	date, err := time.Parse("20060102T150405Z", m["x-amz-date"])
	if err != nil {
		return fmt.Errorf("x-amz-date %q: %w", m["x-amz-date"], err)
	}
	want := map[string]string{
		"version":              "2020_10_22",
		"host":                 host,
		"action":               "kafka-cluster:Connect",
		"x-amz-algorithm":      "AWS4-HMAC-SHA256",
		"x-amz-credential":     fmt.Sprintf("%s/%s/%s/kafka-cluster/aws4_request", d.keyID, date.Format("20060102"), d.region),
		"x-amz-security-token": testSessionTok,
		"x-amz-signedheaders":  "host",
	}
	var wrong []string
	for k, v := range want {
		if m[k] != v {
			wrong = append(wrong, fmt.Sprintf("%s=%q, want %q", k, m[k], v))
		}
	}
	if !strings.HasPrefix(m["user-agent"], "kafka-go") {
		wrong = append(wrong, fmt.Sprintf("user-agent=%q", m["user-agent"]))
	}
	if len(wrong) > 0 {
		return fmt.Errorf("payload fields: %s", strings.Join(wrong, "; "))
	}
	// Sign the same request with the secret key the broker's IAM knows.
	q := url.Values{"Action": {m["action"]}, "X-Amz-Expires": {m["x-amz-expires"]}}
	req, err := http.NewRequest(http.MethodGet, (&url.URL{Scheme: "kafka", Host: host, Path: "/", RawQuery: q.Encode()}).String(), nil)
	if err != nil {
		return err
	}
	creds := aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecretKey, SessionToken: testSessionTok}
	signed, _, err := signer.NewSigner().PresignHTTP(context.Background(), creds, req,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "kafka-cluster", d.region, date)
	if err != nil {
		return err
	}
	u, err := url.Parse(signed)
	if err != nil {
		return err
	}
	if got, want := m["x-amz-signature"], u.Query().Get("X-Amz-Signature"); got == "" || got != want {
		return fmt.Errorf("x-amz-signature %q, want %q", got, want)
	}
	return nil
}

// awsEnv gives the pod's default AWS chain static credentials and nothing else: no shared
// files, no instance metadata.
func awsEnv(t *testing.T, region string) {
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	t.Setenv("AWS_SESSION_TOKEN", testSessionTok)
	t.Setenv("AWS_REGION", region)
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/aws/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ROLE_ARN", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
}

// TestAWSMSKIAM authenticates with the real kafka-go client (Transport, then Dialer) to
// the MSK double over TLS, then reads the topic's metadata.
func TestAWSMSKIAM(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		specRegion, envRegion string
		brokerRegion, keyID   string
		wantErr               string
	}{
		{name: "region from the spec", specRegion: "eu-west-1", envRegion: "us-east-2", brokerRegion: "eu-west-1", keyID: testAccessKeyID},
		{name: "region from AWS_REGION", envRegion: "us-east-2", brokerRegion: "us-east-2", keyID: testAccessKeyID},
		{name: "signed for another region", specRegion: "eu-west-1", brokerRegion: "eu-central-1", keyID: testAccessKeyID, wantErr: "authentication failed"},
		{name: "credentials the broker does not know", envRegion: "us-east-2", brokerRegion: "us-east-2", keyID: "AKIAOTHERKEY", wantErr: "authentication failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			awsEnv(t, tc.envRegion)
			d, caFile := newMSKDouble(t, tc.brokerRegion, tc.keyID)
			k := plan.Kafka{BootstrapServers: d.brokers, TLS: &plan.TLS{CAFile: caFile},
				SASL: &plan.SASL{Mechanism: "AWS_MSK_IAM", AWSRegion: tc.specRegion}}
			got, err := check(t, k, "in")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CheckTopics = %v, %v; want an error with %q", got, err, tc.wantErr)
				}
				for _, secret := range []string{testSecretKey, testSessionTok} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("the error shows a credential: %v", err)
					}
				}
				if !strings.Contains(err.Error(), "kafka-cluster:Connect") {
					t.Errorf("the error does not say what to check: %v", err)
				}
				d.mu.Lock()
				defer d.mu.Unlock()
				if d.accepted != 0 || len(d.problems) == 0 {
					t.Errorf("the double accepted %d payloads, refused %q", d.accepted, d.problems)
				}
				return
			}
			if err != nil || got["in"] != 2 {
				t.Fatalf("CheckTopics = %v, %v; want 2 partitions (double refused %q)", got, err, d.problems)
			}
			dialer, err := Dialer(k)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := dialer.DialContext(ctx, "tcp", d.brokers[0])
			if err != nil {
				t.Fatalf("Dialer: %v (double refused %q)", err, d.problems)
			}
			_ = conn.Close()
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.accepted < 2 || len(d.problems) > 0 {
				t.Errorf("the double accepted %d payloads (want one per connection, 2 or more) and refused %q", d.accepted, d.problems)
			}
		})
	}
}

func TestAWSMSKIAMNeedsARegion(t *testing.T) {
	awsEnv(t, "")
	_, err := SASLMechanism(&plan.SASL{Mechanism: "AWS_MSK_IAM"})
	if err == nil || !strings.Contains(err.Error(), "kafka.sasl.awsRegion") {
		t.Errorf("SASLMechanism without a region = %v, want an error naming kafka.sasl.awsRegion", err)
	}
}
