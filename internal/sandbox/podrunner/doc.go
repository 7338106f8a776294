// Package podrunner plays the kubelet against a real API server (envtest in the end-to-end
// tests and the sandbox): it runs every container of the pods it is given as a local
// process of one binary, the project's own streamreplay, and reports their status the way
// the kubelet does, so the operator cannot tell the difference in what it reads and calls.
//
// Nothing in the product depends on this package; it serves the tests and the sandbox.
//
// # What it does, per pod
//
//   - Binds the pod to its node (Config.NodeName) when nothing else did: envtest has no
//     scheduler. Pods bound to another node are left alone.
//   - Gives the pod its own address from a loopback pool (127.0.2.1 to 127.0.2.254 by
//     default), written to status.podIP and status.podIPs, so the operator reaches the pod
//     on podIP:port as it would in a cluster.
//   - Resolves the environment as the kubelet does: envFrom, plain values with $(VAR)
//     expansion, fieldRef (metadata.name, .namespace, .uid, .labels['k'],
//     .annotations['k'], spec.nodeName, spec.serviceAccountName, status.podIP(s),
//     status.hostIP(s)), configMapKeyRef and secretKeyRef read from the API server.
//     The process gets that environment plus the host's PATH and HOME (and Config.Env)
//     only, so the host environment does not leak in.
//   - Materialises volumes as folders of the pod's folder in the work folder: ConfigMap
//     and Secret (items with their paths and modes, binaryData too, defaultMode,
//     optional), emptyDir, hostPath (the host's own folder) and persistentVolumeClaim
//     (the folder pvc/<namespace>/<claimName> of the work folder, which a test can fill
//     beforehand; see Runner.ClaimDir). The files are written once, before the start.
//     A ConfigMap or Secret file gets the access the pod's user would have on a node,
//     where the kubelet writes it owned by root and the fsGroup: with runAsUser set and
//     not 0, the bits of the group (fsGroup or runAsGroup 0) or of "other" become the
//     owner's, so a key the pod's user could not read there cannot be read here (see
//     fileAccess).
//   - Runs each container as Config.Binary: the image is ignored; the container's
//     command without its first word (the image's executable) and its args follow, then
//     --control-address=<podIP>:<port named "control"> and
//     --metrics-address=<podIP>:<port named "metrics"> (for the ports the container has)
//     and --termination-log=<a file of the pod's folder>.
//   - Probes: httpGet and tcpSocket readiness, liveness and startup probes with their
//     delays, periods, timeouts and thresholds. Ready and ContainersReady follow the
//     readiness probe; a liveness failure kills the container.
//   - Reports Pending (ContainerCreating, or CreateContainerConfigError while a referenced
//     ConfigMap or Secret is missing; retried), Running, then Succeeded or Failed with
//     each container's exit code, reason (Completed, Error), times and termination
//     message: the termination-log file's last 4096 bytes, or with FallbackToLogsOnError
//     and an empty file after a failure, the last 80 lines (2048 bytes) of its log; then,
//     as the kubelet, the first 12 KiB / (the number of containers) bytes of it.
//   - On deletion: SIGTERM, SIGKILL after the grace period (at least 2 s, as the
//     kubelet), the final status, then delete with grace 0 so the API server forgets the
//     pod. activeDeadlineSeconds: the same ending, with phase Failed, reason
//     DeadlineExceeded.
//
// # How it "mounts"
//
// A local process cannot see a volume at the pod's absolute mountPath (say
// /var/run/streamreplay/samples). So the runner rewrites every occurrence of a mountPath,
// as a whole path prefix, in the environment values, the command and the args into the
// volume's local folder: the operator's plan, JSON in STREAMREPLAY_PLAN with
// "/var/run/streamreplay/samples/samples" in it, reaches the process with
// "<work>/pods/<ns>/<pod>_<uid>/volumes/samples/samples" instead. The longest mountPath
// wins; a mountPath of "/" is not rewritten. A volume mounted at /tmp also sets TMPDIR
// (unless the container sets it). Paths the program builds from other sources are not
// rewritten, so the binary must take its paths from its environment or arguments, as
// streamreplay does.
//
// # Not done
//
// Init and ephemeral containers, restarts (every pod runs as restartPolicy Never), exec
// and gRPC probes (they always fail), downwardAPI and projected volumes,
// resourceFieldRef, security contexts (processes run as the runner's user), resource
// limits, refreshing ConfigMap volumes after the start. Linux is assumed: 127.0.0.0/8 is
// all loopback there, and the processes die with the runner (PR_SET_PDEATHSIG).
package podrunner
