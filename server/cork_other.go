//go:build !linux

package server

import "syscall"

// setCork: corking is used on Linux only.
func setCork(syscall.RawConn, bool) bool { return false }
