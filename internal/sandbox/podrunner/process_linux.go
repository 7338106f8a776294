package podrunner

import "syscall"

// sysProcAttr puts each process in its own group, so a terminal's Ctrl-C reaches the
// runner only (which then ends the pods in order), and SIGKILL reaches its children; and
// asks Linux to kill the process if the runner dies without cleaning up. (Linux sends
// that signal when the thread that started the process exits; Go keeps its threads.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
