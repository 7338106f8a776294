package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/streamreplay/streamreplay/internal/operator"
)

// envPodImage names the image of the pods the operator creates when --pod-image is not given.
const envPodImage = "STREAMREPLAY_POD_IMAGE"

func bindManagerFlags(fs *flag.FlagSet, o *operator.Options) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	fs.StringVar(&o.PodImage, "pod-image", os.Getenv(envPodImage), "image of the worker and observer pods (default $"+envPodImage+")")
	fs.DurationVar(&o.StartLead, "start-lead", 2*time.Second, "how far ahead the common start time is set once all pods are Ready")
	fs.Func("watch-namespace", "reconcile LoadTests of this namespace only; repeat for more (default: all)", func(ns string) error {
		o.Namespaces = append(o.Namespaces, ns)
		return nil
	})
	fs.DurationVar(&o.SignalTimeout, "signal-timeout", 2*time.Second, "timeout of one start or stop call to a pod")
}

func runManager(args []string) error {
	var opts operator.Options
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	bindManagerFlags(fs, &opts)
	zapOpts := zap.Options{Development: false, TimeEncoder: zapcore.RFC3339NanoTimeEncoder}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if opts.PodImage == "" {
		return errors.New("no image for the pods: set --pod-image or $" + envPodImage)
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	mgr, err := operator.New(cfg, opts)
	if err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
