package reporttest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes Prometheus die with the test binary, so a test that
// is killed (timeout, ^C) leaves no server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
