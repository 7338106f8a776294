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

// runSandbox is `streamreplay sandbox` (make demo): the whole system on this machine, one
// LoadTest, its progress, its results and its verdict. It exits 0 on Pass only.
func runSandbox(args []string) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	slow := fs.Bool("fail", false, "replay into the pipeline capped at 300 records/s: the test fails, naming the broken thresholds")
	keep := fs.Bool("keep", false, "keep the sandbox running after the verdict and print a kubeconfig for kubectl")
	repo := fs.String("repo", ".", "the repository root (config/ is read from it)")
	workDir := fs.String("workdir", "", "folder for the pods, their logs and the kubeconfig (default: a new temporary folder)")
	podLogs := fs.Bool("pod-logs", false, "print the pods' log lines too")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the verdict")
	if err := fs.Parse(args); err != nil {
		return err
	}
	binary, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary, which the pods run: %w", err)
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
	fmt.Printf("streamreplay sandbox: work folder %s (logs in sandbox.log and pods/)\n", *workDir)

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
		Slow:    *slow,
		Keep:    *keep,
		Out:     os.Stdout,
		Timeout: *timeout,
	})
	if errors.Is(err, sandbox.ErrNotPassed) && *slow {
		fmt.Println("\nThe capped pipeline could not keep up, as --fail intends.")
	}
	return err
}
