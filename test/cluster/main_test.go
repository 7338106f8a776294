// Package cluster runs the end-to-end scenarios of test/cluster/scenario on one backend,
// chosen by STREAMREPLAY_CLUSTER:
//
//   - realnode: the one-node cluster of hack/realnode (make test-cluster brings it up, with
//     the kubeconfig in STREAMREPLAY_KUBECONFIG and the node's folder in REALNODE_DIR);
//   - sandbox: envtest with the local pod runner (make test-cluster-sandbox; no root).
//
// Unset (make test), only the tests that need no cluster run and TestScenarios is skipped,
// saying so; set, a missing or unreachable cluster fails the run.
package cluster

import (
	"fmt"
	"os"
	"testing"

	"github.com/streamreplay/streamreplay/test/cluster/scenario"
)

// EnvBackend chooses the backend.
const EnvBackend = "STREAMREPLAY_CLUSTER"

var backend interface {
	scenario.Backend
	stop()
}

func TestMain(m *testing.M) {
	name := os.Getenv(EnvBackend)
	if name == "" {
		os.Exit(m.Run())
	}
	os.Exit(run(m, name))
}

func run(m *testing.M, name string) int {
	var err error
	switch name {
	case "realnode":
		backend, err = startRealNode()
	case "sandbox":
		backend, err = startSandbox()
	default:
		err = fmt.Errorf("%s=%q: want realnode or sandbox", EnvBackend, name)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "test/cluster: %v\n", err)
		return 1
	}
	defer backend.stop()
	return m.Run()
}

func TestScenarios(t *testing.T) {
	if backend == nil {
		t.Skipf("%s is not set: `make test-cluster` (real node, root) or `make test-cluster-sandbox` run the scenarios", EnvBackend)
	}
	scenario.RunAll(t, backend)
}
