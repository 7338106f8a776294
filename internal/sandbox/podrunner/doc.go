// Package podrunner plays the kubelet against a real API server (envtest in the end-to-end
// tests and the sandbox): it runs every container of the pods it is given as a local
// process of the streamreplay binary and reports their status the way the kubelet does.
// Nothing in the product depends on it. What it does and does not do: docs/design.md,
// "The pod runner".
package podrunner
