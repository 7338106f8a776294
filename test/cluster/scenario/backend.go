// Package scenario holds the end-to-end scenarios that run, unchanged, on two backends: the
// sandbox (envtest's API server with the local pod runner playing the kubelet) and the real
// node of hack/realnode (a real kubelet, real containers, the real image, the operator
// installed from config/default). A difference between the pod runner and the kubelet
// then shows as a scenario that passes on one and fails on the other. The differences
// the pod runner does not model on purpose are named (see Difference) and asserted as
// such, so that a stand-in that changes shows up too.
package scenario

import (
	"syscall"
	"testing"
)

// Backend is a cluster the scenarios run on.
type Backend interface {
	// Name is "sandbox" or "realnode", for messages.
	Name() string
	// Cluster is where kubectl goes. The namespace enforces the restricted Pod Security
	// Standard.
	Cluster
	// Kafka is the Kafka the example pipelines read, with their topics.
	Kafka() Kafka
	// SASLKafka is a second Kafka that requires SCRAM-SHA-512 for user with password, with
	// topic; the backend removes it at the end of the test.
	SASLKafka(t *testing.T, user, password, topic string) Kafka
	// Signal sends sig to the process of a pod's container: SIGKILL kills it, SIGSTOP
	// freezes it.
	Signal(t *testing.T, pod, container string, sig syscall.Signal)
	// RestartManager takes the running operator away mid-run and brings another up:
	// stop and start in the sandbox, deleting the Deployment's pod on the real node.
	RestartManager(t *testing.T)
	// StopManager stops the operator until StartManager (scaling its Deployment to 0 and
	// back on the real node). StartManager does nothing when it runs.
	StopManager(t *testing.T)
	StartManager(t *testing.T)
	// Image is the operator's image: the pods the operator creates run it.
	Image() string
	// Process is what a running container's process and one of its mounted files look
	// like from the machine: the process's user and groups, the file's mode and owner.
	Process(t *testing.T, pod, container, volume, file string) Process
	// Logs is a container's log, also after the pod ended.
	Logs(t *testing.T, pod, container string) string
	// Models says whether the backend behaves like a kubelet and a full control plane in
	// respect of d; the scenarios assert the documented behaviour where it does not.
	Models(d Difference) bool
}

// Cluster is what kubectl needs of a backend: the helpers of kube.go take only this, so
// that test/e2e calls them on its sandbox.
type Cluster interface {
	// Kubeconfig is the file kubectl uses.
	Kubeconfig() string
	// Namespace is where the scenarios' LoadTests, Kafka and pipelines live.
	Namespace() string
}

// Kafka is where a backend's Kafka is.
type Kafka struct {
	// Bootstrap is what LoadTests name in spec.kafka.bootstrapServers.
	Bootstrap []string
	// Dial is what this test process dials to read the topics.
	Dial []string
}

// Process is a container's process and one of its mounted files, as the machine sees them.
type Process struct {
	UID, GID  int
	Groups    []int
	FileMode  uint32 // permission bits
	FileUID   int
	FileGID   int
	FileBytes []byte
}

// Difference is something the pod runner and the sandbox do not do as a cluster does. Each
// is described in docs/design.md ("The real node").
type Difference string

const (
	// GarbageCollection is the garbage collector: envtest runs no kube-controller-manager, so nothing deletes the
	// pods of a deleted LoadTest; they run to their end.
	GarbageCollection Difference = "GarbageCollection"
	// PodUsers are the pods' users: the pod runner runs every container as its own user and leaves volume
	// files to that user; the kubelet applies runAsUser and fsGroup.
	PodUsers Difference = "PodUsers"
	// ManagerInCluster is the operator as config/default installs it: the sandbox runs the operator in its own process with envtest's
	// admin credentials; on the real node it runs from config/default with exactly the
	// RBAC config/ grants, as a Deployment with leader election.
	ManagerInCluster Difference = "ManagerInCluster"
)
