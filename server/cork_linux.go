package server

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setCork sets or clears TCP_CORK on a socket, and says whether it could
// (not on a socket that is not TCP).
func setCork(raw syscall.RawConn, on bool) bool {
	v := 0
	if on {
		v = 1
	}
	var err error
	if cerr := raw.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK, v)
	}); cerr != nil {
		return false
	}
	return err == nil
}
