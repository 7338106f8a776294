//go:build unix && !linux

package podrunner

import "syscall"

// sysProcAttr puts each process in its own group, so a terminal's Ctrl-C reaches the
// runner only, and SIGKILL reaches the process's children.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
