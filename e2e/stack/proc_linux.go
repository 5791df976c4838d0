package stack

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	// Pdeathsig: if the test binary is killed (a -timeout panic skips
	// cleanups), the programs it started die with it instead of lingering.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
