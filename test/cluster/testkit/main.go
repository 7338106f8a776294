// Command testkit runs, as pods of the real-node test cluster, what the sandbox runs in its
// own process: kfake as the Kafka (optionally requiring SCRAM with credentials read from
// mounted files) and the example pipeline. `netcheck` reports what a pod can reach, for the
// traffic-guard test. Nothing in the product uses it; make test-cluster builds it into the
// image localhost/streamreplay-testkit:local.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"github.com/streamreplay/streamreplay/internal/sandbox/pipeline"
)

func main() {
	if err := run(); err != nil {
		_ = os.WriteFile("/dev/termination-log", []byte(err.Error()), 0o600)
		fmt.Fprintf(os.Stderr, "testkit: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) < 2 {
		return errors.New("usage: testkit kafka|pipeline|netcheck [flags]")
	}
	z, err := zap.NewProduction()
	if err != nil {
		return err
	}
	log := zapr.NewLogger(z)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch os.Args[1] {
	case "kafka":
		err = runKafka(ctx, os.Args[2:], log)
	case "pipeline":
		err = runPipeline(ctx, os.Args[2:], log)
	case "netcheck":
		err = runNetcheck(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", os.Args[1], err)
	}
	return nil
}

// runKafka serves kfake on $POD_IP, which it advertises, so that clients that bootstrap
// through the Service then reach the broker on the pod's own address.
func runKafka(ctx context.Context, args []string, log logr.Logger) error {
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	port := fs.Int("port", 9092, "port")
	topics := fs.String("topics", "", "comma-separated topics to create")
	partitions := fs.Int("partitions", 3, "partitions per topic")
	saslDir := fs.String("sasl-dir", "", "folder with the files username and password: require SCRAM-SHA-512 for that user")
	if err := parse(fs, args); err != nil {
		return err
	}
	podIP := os.Getenv("POD_IP")
	if net.ParseIP(podIP) == nil {
		return fmt.Errorf("POD_IP %q is not an address: set it from status.podIP", podIP)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(podIP, fmt.Sprint(*port)))
		}),
	}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...))
	}
	if *saslDir != "" {
		user, err := os.ReadFile(filepath.Join(*saslDir, "username"))
		if err != nil {
			return fmt.Errorf("reading the SASL username: %w", err)
		}
		password, err := os.ReadFile(filepath.Join(*saslDir, "password"))
		if err != nil {
			return fmt.Errorf("reading the SASL password: %w", err)
		}
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", strings.TrimSpace(string(user)), string(password)))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting kfake: %w", err)
	}
	defer cluster.Close()
	log.Info("Kafka (kfake) serving", "addresses", cluster.ListenAddrs(), "topics", *topics, "sasl", *saslDir != "")
	<-ctx.Done()
	return nil
}

func runPipeline(ctx context.Context, args []string, log logr.Logger) error {
	fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	var cfg pipeline.Config
	brokers := fs.String("brokers", "", "comma-separated bootstrap servers")
	fs.StringVar(&cfg.InputTopic, "input", "", "input topic")
	fs.StringVar(&cfg.OutputTopic, "output", "", "output topic")
	fs.StringVar(&cfg.DLQTopic, "dlq", "", "dead-letter topic")
	fs.StringVar(&cfg.Group, "group", "", "consumer group")
	fs.Float64Var(&cfg.MaxRate, "max-rate", 0, "records per second at most (0: no cap)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.Brokers = strings.Split(*brokers, ",")
	p, err := pipeline.New(cfg, log.WithValues("group", cfg.Group))
	if err != nil {
		return err
	}
	return p.Run(ctx)
}

// parse parses flags and refuses anything else: a list split by mistake must not pass.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// netcheck is what the pod sees of the network, as JSON on stdout and in its termination
// message: its routes, what names resolve to, and whether an address off the machine can
// be reached.
type netcheck struct {
	Routes        []string          `json:"routes"`
	DefaultRoute  bool              `json:"defaultRoute"`
	Resolved      map[string]string `json:"resolved"`
	OutsideDial   string            `json:"outsideDial"`
	ResolvConfDNS []string          `json:"resolvConfNameservers"`
}

func runNetcheck(args []string) error {
	fs := flag.NewFlagSet("netcheck", flag.ContinueOnError)
	names := fs.String("resolve", "kubernetes.default.svc.cluster.local,example.com", "comma-separated names to resolve")
	outside := fs.String("dial", "203.0.113.1:443", "an address off the machine to try (TEST-NET-3: no such host exists)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var r netcheck
	routes, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return err
	}
	for i, line := range strings.Split(strings.TrimSpace(string(routes)), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 8 {
			continue
		}
		r.Routes = append(r.Routes, fmt.Sprintf("%s dst=%s gw=%s mask=%s", f[0], hexIP(f[1]), hexIP(f[2]), hexIP(f[7])))
		if f[1] == "00000000" && f[7] == "00000000" {
			r.DefaultRoute = true
		}
	}
	if conf, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		for line := range strings.Lines(string(conf)) {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "nameserver" {
				r.ResolvConfDNS = append(r.ResolvConfDNS, f[1])
			}
		}
	}
	r.Resolved = map[string]string{}
	for _, name := range strings.Split(*names, ",") {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		addrs, err := net.DefaultResolver.LookupHost(ctx, name)
		cancel()
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			r.Resolved[name] = "NXDOMAIN"
		case err != nil:
			r.Resolved[name] = "error: " + err.Error()
		default:
			r.Resolved[name] = strings.Join(addrs, ",")
		}
	}
	conn, err := net.DialTimeout("tcp", *outside, 3*time.Second)
	if err == nil {
		_ = conn.Close()
		r.OutsideDial = "connected"
	} else {
		r.OutsideDial = err.Error()
	}
	out, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return os.WriteFile("/dev/termination-log", out, 0o600)
}

// hexIP turns /proc/net/route's little-endian hex address into dotted form.
func hexIP(h string) string {
	var b [4]byte
	if _, err := fmt.Sscanf(h, "%02x%02x%02x%02x", &b[3], &b[2], &b[1], &b[0]); err != nil {
		return h
	}
	return net.IP(b[:]).String()
}
