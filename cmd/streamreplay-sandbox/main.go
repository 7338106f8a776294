// Command streamreplay-sandbox runs the whole system on this machine (make demo): the
// envtest control plane, the operator, the local pod runner, an embedded Kafka with the
// example pipelines, one demo LoadTest, its progress, its results and its verdict. It
// exits 0 on Pass only. It is a development tool, apart from the product binary
// (streamreplay), whose worker and observer it runs as the pods' processes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/streamreplay/streamreplay/internal/sandbox"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "streamreplay-sandbox: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("streamreplay-sandbox", flag.ContinueOnError)
	podBinary := fs.String("pod-binary", "", "the streamreplay binary the pods run (default: streamreplay next to this binary)")
	slow := fs.Bool("fail", false, "replay into the pipeline capped at 300 records/s: the test fails, naming the broken thresholds")
	capacity := fs.Bool("capacity", false, "search for the capacity of the pipeline capped at 300 records/s, probe by probe")
	keep := fs.Bool("keep", false, "keep the sandbox running after the verdict and print a kubeconfig for kubectl")
	repo := fs.String("repo", ".", "the repository root (config/ is read from it)")
	workDir := fs.String("workdir", "", "folder for the pods, their logs and the kubeconfig (default: a new temporary folder)")
	podLogs := fs.Bool("pod-logs", false, "print the pods' log lines too")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the verdict")
	if err := fs.Parse(args); err != nil {
		return err
	}
	binary, err := productBinary(*podBinary)
	if err != nil {
		return err
	}
	if *workDir == "" {
		if *workDir, err = os.MkdirTemp("", "streamreplay-sandbox-"); err != nil {
			return fmt.Errorf("creating the work folder: %w", err)
		}
	}
	logFile := filepath.Join(*workDir, "sandbox.log")
	if err := os.MkdirAll(*workDir, 0o750); err != nil {
		return fmt.Errorf("creating the work folder: %w", err)
	}
	logOut, err := os.Create(logFile) //nolint:gosec // the path is the user's own work folder
	if err != nil {
		return fmt.Errorf("creating the sandbox log: %w", err)
	}
	defer func() { _ = logOut.Close() }()
	// The operator's and the pod runner's logs go to a file: the terminal shows the run.
	encoder := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zapr.NewLogger(zap.New(zapcore.NewCore(encoder, zapcore.AddSync(logOut), zapcore.InfoLevel)))
	ctrl.SetLogger(log)
	var podOutput io.Writer
	if *podLogs {
		podOutput = os.Stdout
	}
	fmt.Printf("streamreplay-sandbox: work folder %s (logs in sandbox.log and pods/)\n", *workDir)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = sandbox.RunDemo(ctx, sandbox.DemoOptions{
		Options: sandbox.Options{
			RepoRoot:  *repo,
			Binary:    binary,
			WorkDir:   *workDir,
			PodOutput: podOutput,
			Log:       log,
		},
		Slow:     *slow,
		Capacity: *capacity,
		Keep:     *keep,
		Out:      os.Stdout,
		Timeout:  *timeout,
	})
	if errors.Is(err, sandbox.ErrNotPassed) && *slow {
		fmt.Println("\nThe capped pipeline could not keep up, as --fail intends.")
	}
	return err
}

// productBinary is the streamreplay binary the pods run: the one given, else the one next
// to this binary (make build puts both in bin/).
func productBinary(given string) (string, error) {
	if given == "" {
		self, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("finding this binary, to find streamreplay next to it: %w", err)
		}
		given = filepath.Join(filepath.Dir(self), "streamreplay")
	}
	abs, err := filepath.Abs(given)
	if err != nil {
		return "", fmt.Errorf("--pod-binary %s: %w", given, err)
	}
	if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("the pods run the streamreplay binary, and %s is not an executable file (build it with `make build`, or name it with --pod-binary)", abs)
	}
	return abs, nil
}
