//go:build unix

package podrunner

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// signalProcess signals a container's process as a container runtime signals a
// container's first process; SIGKILL ends its whole group, as the runtime ends the
// container's cgroup.
func signalProcess(cmd *exec.Cmd, sig os.Signal) error {
	if sig == syscall.SIGKILL {
		// The group's id is the process's id (Setpgid); ESRCH means it is gone already.
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// exitStatus is a container's exit code as runtimes report it (128 + the signal for a
// process ended by a signal) and the signal.
func exitStatus(state *os.ProcessState) (code, signal int32) {
	if state == nil {
		return 128, 0
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int32(ws.Signal()), int32(ws.Signal())
	}
	return int32(state.ExitCode()), 0
}
