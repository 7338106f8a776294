// Package observer is the observer pod of a LoadTest: while the workers replay, it reads
// the pipeline's dead-letter and output topics and samples its consumer lag, then reports
// what it saw in the pod's termination message. docs/design.md ("The observer") says how
// it counts.
package observer
