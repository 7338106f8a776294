// Package kafkaconn turns a pod's Kafka settings (plan.Kafka) into kafka-go connections:
// TLS and SASL from the mounted Secret files, and a check, before a pod reports Ready,
// that the brokers answer and the topics exist, with errors that say what is wrong.
//
// Secrets are read from files and never logged or put into errors: errors name the file,
// not its content.
package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/internal/plan"
)

// DefaultClientID is the Kafka client id when the plan names none.
const DefaultClientID = "streamreplay"

const (
	dialTimeout = 5 * time.Second
	// checkTimeout bounds CheckTopics when the caller's context has no deadline.
	checkTimeout = 30 * time.Second
)

// Transport returns a kafka-go Transport (for Writer and Client) with the plan's client id,
// TLS and SASL settings.
func Transport(k plan.Kafka) (*kafka.Transport, error) {
	tlsConfig, mechanism, err := security(k)
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		Dial:        (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		DialTimeout: dialTimeout,
		ClientID:    clientID(k),
		TLS:         tlsConfig,
		SASL:        mechanism,
	}, nil
}

// Dialer returns a kafka-go Dialer (for Reader and Conn) with the same settings as Transport.
func Dialer(k plan.Kafka) (*kafka.Dialer, error) {
	tlsConfig, mechanism, err := security(k)
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		ClientID:      clientID(k),
		Timeout:       dialTimeout,
		DualStack:     true,
		KeepAlive:     30 * time.Second,
		TLS:           tlsConfig,
		SASLMechanism: mechanism,
	}, nil
}

func clientID(k plan.Kafka) string {
	if k.ClientID != "" {
		return k.ClientID
	}
	return DefaultClientID
}

func security(k plan.Kafka) (*tls.Config, sasl.Mechanism, error) {
	tlsConfig, err := TLSConfig(k.TLS)
	if err != nil {
		return nil, nil, err
	}
	mechanism, err := SASLMechanism(k.SASL)
	if err != nil {
		return nil, nil, err
	}
	return tlsConfig, mechanism, nil
}

// TLSConfig builds the client TLS configuration from the mounted files; nil when t is nil
// (plaintext). Without a CA file the system roots are used.
func TLSConfig(t *plan.TLS) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the Kafka CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the Kafka CA file %s holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the Kafka client certificate %s and key %s: %w", t.CertFile, t.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	case t.CertFile != "" || t.KeyFile != "":
		return nil, errors.New("the Kafka client certificate needs both a certificate file and a key file")
	}
	return c, nil
}

// SASLMechanism builds the SASL mechanism from the mounted username and password files
// (AWS_MSK_IAM: from the pod's AWS credentials); nil when s is nil.
func SASLMechanism(s *plan.SASL) (sasl.Mechanism, error) {
	if s == nil {
		return nil, nil
	}
	if s.Mechanism == streamreplayv1alpha1.SASLAWSMSKIAM {
		return awsMSKIAM(s)
	}
	user := s.Username
	if user == "" {
		var err error
		if user, err = readSecret("username", s.UsernameFile); err != nil {
			return nil, err
		}
	}
	pass, err := readSecret("password", s.PasswordFile)
	if err != nil {
		return nil, err
	}
	switch s.Mechanism {
	case streamreplayv1alpha1.SASLPlain:
		return plain.Mechanism{Username: user, Password: pass}, nil
	case streamreplayv1alpha1.SASLScramSHA256:
		return scramMechanism(scram.SHA256, user, pass)
	case streamreplayv1alpha1.SASLScramSHA512:
		return scramMechanism(scram.SHA512, user, pass)
	default:
		return nil, fmt.Errorf("unknown SASL mechanism %q; want %s, %s, %s or %s", s.Mechanism,
			streamreplayv1alpha1.SASLPlain, streamreplayv1alpha1.SASLScramSHA256, streamreplayv1alpha1.SASLScramSHA512, streamreplayv1alpha1.SASLAWSMSKIAM)
	}
}

func scramMechanism(algo scram.Algorithm, user, pass string) (sasl.Mechanism, error) {
	m, err := scram.Mechanism(algo, user, pass)
	if err != nil {
		// The error is about the username or password's form (SASLprep), never their content.
		return nil, fmt.Errorf("SASL %s: %w", algo.Name(), err)
	}
	return m, nil
}

// readSecret reads a credential file. A Secret written from a file often ends with a
// newline that is not part of the credential.
func readSecret(what, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("no SASL %s file", what)
	}
	b, err := os.ReadFile(path) //nolint:gosec // the path comes from the operator's plan: a mounted Secret
	if err != nil {
		return "", fmt.Errorf("reading the SASL %s file: %w", what, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("the SASL %s file %s is empty", what, path)
	}
	return s, nil
}

// Addr returns the bootstrap servers as one net.Addr for kafka-go's Transport and Client.
// It is kafka.TCP's address with its strings computed once: kafka-go's multi-address
// joins them on every call, and the worker's producer passes it to every produce round
// trip. Clients built on either share the Transport's connection pool.
func Addr(k plan.Kafka) net.Addr {
	a := kafka.TCP(k.BootstrapServers...)
	return &staticAddr{network: a.Network(), address: a.String()}
}

type staticAddr struct{ network, address string }

func (a *staticAddr) Network() string { return a.network }
func (a *staticAddr) String() string  { return a.address }

// CheckTopics makes sure a broker answers and each topic exists; it returns the number of
// partitions of each topic. Its errors say what is wrong:
//
//	cannot reach any of the brokers [a:9092 b:9092]: <cause>
//	authentication failed: <cause>
//	topic "x" does not exist
func CheckTopics(ctx context.Context, k plan.Kafka, t *kafka.Transport, topics ...string) (map[string]int, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, checkTimeout)
		defer cancel()
	}
	topics = unique(topics)
	client := &kafka.Client{Addr: Addr(k), Transport: t}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, describe(k, err)
	}
	partitions := make(map[string]int, len(topics))
	var problems []string
	for _, topic := range resp.Topics {
		switch {
		case topic.Error == nil:
			partitions[topic.Name] = len(topic.Partitions)
		case errors.Is(topic.Error, kafka.UnknownTopicOrPartition):
			problems = append(problems, fmt.Sprintf("topic %q does not exist", topic.Name))
		case errors.Is(topic.Error, kafka.TopicAuthorizationFailed):
			problems = append(problems, fmt.Sprintf("not authorized to access topic %q (check the ACLs of the client's user)", topic.Name))
		default:
			problems = append(problems, fmt.Sprintf("topic %q: %v", topic.Name, topic.Error))
		}
	}
	for _, topic := range topics {
		if _, ok := partitions[topic]; !ok && !mentioned(problems, topic) {
			problems = append(problems, fmt.Sprintf("topic %q does not exist", topic))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return partitions, nil
}

func unique(topics []string) []string {
	seen := make(map[string]bool, len(topics))
	out := make([]string, 0, len(topics))
	for _, t := range topics {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

func mentioned(problems []string, topic string) bool {
	q := fmt.Sprintf("%q", topic)
	for _, p := range problems {
		if strings.Contains(p, q) {
			return true
		}
	}
	return false
}

// describe turns a connection error into a sentence naming the likely cause.
func describe(k plan.Kafka, err error) error {
	brokers := k.BootstrapServers
	var kerr kafka.Error
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &kerr) && kerr == kafka.SASLAuthenticationFailed && k.SASL != nil &&
		k.SASL.Mechanism == streamreplayv1alpha1.SASLAWSMSKIAM:
		return fmt.Errorf("authentication failed: MSK refused the pods' AWS credentials: check the region, and that the IAM role of the pods' service account (IRSA or EKS Pod Identity) allows kafka-cluster:Connect on the cluster: %w", err)
	case errors.As(err, &kerr) && (kerr == kafka.SASLAuthenticationFailed || kerr == kafka.IllegalSASLState):
		return fmt.Errorf("authentication failed: check the SASL username, password and mechanism: %w", err)
	case errors.As(err, &kerr) && kerr == kafka.UnsupportedSASLMechanism:
		return fmt.Errorf("authentication failed: the brokers do not accept this SASL mechanism: %w", err)
	case errors.As(err, &kerr) && kerr == kafka.ClusterAuthorizationFailed:
		return fmt.Errorf("authentication failed: the client is not authorized on the cluster: %w", err)
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return fmt.Errorf("TLS handshake with the brokers %v failed: the broker's certificate is not trusted (check the CA and serverName): %w", brokers, err)
	case errors.As(err, &recordErr):
		return fmt.Errorf("TLS handshake with the brokers %v failed: they do not seem to speak TLS on this port: %w", brokers, err)
	case closed(err) && k.SASL != nil:
		// Some brokers end a failed SASL exchange by closing the connection.
		return fmt.Errorf("authentication failed: the brokers %v closed the connection; check the SASL username, password and mechanism, and whether the brokers expect TLS: %w", brokers, err)
	case closed(err):
		return fmt.Errorf("cannot reach any of the brokers %v: they closed the connection; do they expect TLS or SASL? %w", brokers, err)
	default:
		return fmt.Errorf("cannot reach any of the brokers %v: %w", brokers, err)
	}
}

func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
