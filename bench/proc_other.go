//go:build !linux

package main

import "syscall"

// childAttr is empty where the kernel cannot tie a child's life to the
// bench's; the bench still stops its children on every return path.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
