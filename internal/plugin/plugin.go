// Package plugin is the kubectl plugin kubectl-streamreplay: stop, rerun, compare and report
// on LoadTests, with kubectl's own flags for the kubeconfig, context and namespace.
package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamreplayv1alpha1 "github.com/streamreplay/streamreplay/api/v1alpha1"
	"github.com/streamreplay/streamreplay/controllers"
	"github.com/streamreplay/streamreplay/internal/report"
	"github.com/streamreplay/streamreplay/internal/results"
	"github.com/streamreplay/streamreplay/internal/version"
)

// AnnotationRerunOf names the LoadTest a rerun was copied from.
const AnnotationRerunOf = "streamreplay.io/rerun-of"

// maxNameLength is the LoadTest's own limit on its name (its pods' names must fit in 63).
const maxNameLength = 50

// generatedSuffixLength is what the API server appends to a generateName.
const generatedSuffixLength = 5

type options struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
}

// NewCommand builds `kubectl streamreplay` with its sub-commands.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:           "kubectl-streamreplay",
		Short:         "Stop, rerun, compare and report on streamreplay LoadTests; record sample sets from topics",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Version,
		// kubectl runs the plugin as `kubectl streamreplay`; help shows it that way.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl streamreplay"},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetVersionTemplate(version.String("kubectl-streamreplay") + "\n")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.flags.AddFlags(root.PersistentFlags())
	root.AddCommand(o.stopCommand(), o.rerunCommand(), o.compareCommand(), o.reportCommand())
	root.AddCommand(o.recordCommand(), o.importCommand())
	return root
}

// Main runs the plugin with os.Args and returns the process's exit code.
func Main() int {
	cmd := NewCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(streamreplayv1alpha1.AddToScheme(s))
	return s
}

// client gives a client and the namespace, from the kubeconfig flags as kubectl reads them.
func (o *options) client() (client.Client, string, error) {
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return nil, "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	ns, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("reading the namespace: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, ns, nil
}

func getLoadTest(ctx context.Context, c client.Client, ns, name string) (*streamreplayv1alpha1.LoadTest, error) {
	lt := &streamreplayv1alpha1.LoadTest{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, lt); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("loadtest %q not found in namespace %q", name, ns)
		}
		return nil, fmt.Errorf("reading loadtest %s/%s: %w", ns, name, err)
	}
	return lt, nil
}

func (o *options) stopCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "stop NAME",
		Short: "Ask a running LoadTest to end early (sets spec.stop; it ends Aborted with partial results)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			return stop(cmd.Context(), c, ns, args[0], cmd.OutOrStdout())
		},
	}
}

func stop(ctx context.Context, c client.Client, ns, name string, out interface{ Write([]byte) (int, error) }) error {
	lt, err := getLoadTest(ctx, c, ns, name)
	if err != nil {
		return err
	}
	if lt.Status.Phase.Finished() {
		fmt.Fprintf(out, "loadtest.streamreplay.io/%s already ended (%s): nothing to stop\n", name, lt.Status.Phase)
		return nil
	}
	if lt.Spec.Stop {
		fmt.Fprintf(out, "loadtest.streamreplay.io/%s is already stopping\n", name)
		return nil
	}
	// A merge patch of the one field that may change: no conflict with the operator's
	// status writes, and nothing else of the spec is sent back.
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"stop":true}}`))
	if err := c.Patch(ctx, lt, patch); err != nil {
		return fmt.Errorf("stopping loadtest %s/%s: %w", ns, name, err)
	}
	fmt.Fprintf(out, "loadtest.streamreplay.io/%s stopping\n", name)
	return nil
}

func (o *options) rerunCommand() *cobra.Command {
	var newName string
	cmd := &cobra.Command{
		Use:   "rerun NAME",
		Short: "Create a new LoadTest with the same spec and labels (named NAME-rerun-xxxxx unless --name)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			lt, err := getLoadTest(cmd.Context(), c, ns, args[0])
			if err != nil {
				return err
			}
			rerun := Rerun(lt, newName)
			if err := c.Create(cmd.Context(), rerun); err != nil {
				return fmt.Errorf("creating the rerun of loadtest %s/%s: %w", ns, lt.Name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loadtest.streamreplay.io/%s created\n", rerun.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&newName, "name", "", "name of the new LoadTest (default: NAME-rerun- and 5 generated characters)")
	return cmd
}

// rerunSuffix is the tail a generated rerun name carries, removed before adding a new one so
// that the rerun of a rerun is not NAME-rerun-abcde-rerun-fghij.
var rerunSuffix = regexp.MustCompile(`-rerun-[a-z0-9]{5}$`)

// Rerun builds a new LoadTest from lt: the same spec without stop, lt's labels but the
// GitOps tools' tracking labels, an annotation naming lt, never its status. Without a name, the API server generates one
// from NAME-rerun-.
func Rerun(lt *streamreplayv1alpha1.LoadTest, name string) *streamreplayv1alpha1.LoadTest {
	out := &streamreplayv1alpha1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   lt.Namespace,
			Labels:      rerunLabels(lt.Labels),
			Annotations: map[string]string{AnnotationRerunOf: lt.Name},
		},
		Spec: *lt.Spec.DeepCopy(),
	}
	out.Spec.Stop = false
	if name != "" {
		out.Name = name
		return out
	}
	prefix := "-rerun-"
	base := rerunSuffix.ReplaceAllString(lt.Name, "")
	if n := maxNameLength - generatedSuffixLength - len(prefix); len(base) > n {
		base = base[:n]
	}
	out.GenerateName = base + prefix
	return out
}

// gitOpsLabels are the labels by which Argo CD and Flux track the objects they apply. A rerun
// is not in their source: with these labels they would prune it, mid-run.
var gitOpsLabels = []string{
	"app.kubernetes.io/instance", // Argo CD's default tracking label
	"argocd.argoproj.io/instance",
	"kustomize.toolkit.fluxcd.io/name",
	"kustomize.toolkit.fluxcd.io/namespace",
	"helm.toolkit.fluxcd.io/name",
	"helm.toolkit.fluxcd.io/namespace",
}

// rerunLabels are the original's labels but those of gitOpsLabels.
func rerunLabels(in map[string]string) map[string]string {
	out := maps.Clone(in)
	for _, l := range gitOpsLabels {
		delete(out, l)
	}
	return out
}

// resultsOf reads the run's results document from its results ConfigMap; nil when the
// ConfigMap holds none yet (the run has not finished, or ended before it had results).
func resultsOf(ctx context.Context, c client.Client, lt *streamreplayv1alpha1.LoadTest) (*results.Document, error) {
	name := lt.Status.ResultsConfigMap
	if name == "" {
		name = controllers.ResultsConfigMapName(lt)
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: lt.Namespace, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the results ConfigMap %s/%s of loadtest %s: %w", lt.Namespace, name, lt.Name, err)
	}
	data, ok := cm.Data[controllers.ResultsKeyJSON]
	if !ok {
		return nil, nil
	}
	doc := &results.Document{}
	if err := json.Unmarshal([]byte(data), doc); err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s, key %s: %w", lt.Namespace, name, controllers.ResultsKeyJSON, err)
	}
	return doc, nil
}

func readRun(ctx context.Context, c client.Client, ns, name string) (report.Run, error) {
	lt, err := getLoadTest(ctx, c, ns, name)
	if err != nil {
		return report.Run{}, err
	}
	doc, err := resultsOf(ctx, c, lt)
	if err != nil {
		return report.Run{}, err
	}
	probes, err := probesOf(ctx, c, lt)
	if err != nil {
		return report.Run{}, err
	}
	return report.Run{LoadTest: lt, Document: doc, Probes: probes}, nil
}

var errOutput = errors.New("unknown output format")

func (o *options) compareCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "compare A B",
		Short: "Show two runs side by side with the change of each figure from A to B; WORSE marks where B is worse",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" && output != "text" {
				return fmt.Errorf("%w %q for -o: use text or json", errOutput, output)
			}
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			a, err := readRun(cmd.Context(), c, ns, args[0])
			if err != nil {
				return err
			}
			b, err := readRun(cmd.Context(), c, ns, args[1])
			if err != nil {
				return err
			}
			cmp := report.Compare(a, b)
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(cmp)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), cmp.Text())
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func (o *options) reportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "report NAME -o FILE.html",
		Short: "Write the run's report as one self-contained HTML file (inline CSS and SVG, nothing fetched)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return errors.New("-o FILE.html is required: the report is a file to open in a browser or attach to a change")
			}
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			r, err := readRun(cmd.Context(), c, ns, args[0])
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := report.WriteHTML(&buf, r, time.Now()); err != nil {
				return err
			}
			if output == "-" {
				_, err = cmd.OutOrStdout().Write(buf.Bytes())
				return err
			}
			if err := os.WriteFile(output, buf.Bytes(), 0o644); err != nil { //nolint:gosec // a report to share, not a secret
				return fmt.Errorf("writing the report: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report of loadtest.streamreplay.io/%s (%s) written to %s\n", r.LoadTest.Name, r.LoadTest.Status.Phase, output)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write the HTML report to (- for standard output)")
	return cmd
}
