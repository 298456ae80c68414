package main

import "syscall"

// childAttr makes the kernel kill a child process when the bench dies
// without stopping it (a crash, SIGKILL), so no server outlives a run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
