// Command streamreplay is the operator and the pods it runs, in one binary:
// `streamreplay manager` (the default) reconciles LoadTests; the other sub-commands run
// inside the pods the operator creates. The sandbox (make demo) is a binary of its own,
// cmd/streamreplay-sandbox, so that nothing of the test harness ships in this one.
package main

import (
	"fmt"
	"os"

	"github.com/streamreplay/streamreplay/internal/version"
)

const usage = `usage: streamreplay <command> [flags]

commands:
  manager   reconcile LoadTest objects (the operator; the default)
  worker    replay samples into Kafka at this pod's share of the rate (in a worker pod; plan in $STREAMREPLAY_PLAN)
  observer  count the run's dead letters, sample the pipeline's lag, measure end-to-end latency (in the observer pod)
  version   print the version (also --version)

The sandbox, the whole system on this machine, is the binary streamreplay-sandbox (make demo).
`

func main() {
	args := os.Args[1:]
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		fmt.Println(version.String("streamreplay"))
		return
	}
	command := "manager"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		command, args = args[0], args[1:]
	}
	var err error
	switch command {
	case "manager":
		err = runManager(args)
	case "worker":
		err = runWorker(args)
	case "observer":
		err = runObserver(args)
	case "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "streamreplay: unknown command %q\n\n%s", command, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "streamreplay %s: %v\n", command, err)
		os.Exit(1)
	}
}
