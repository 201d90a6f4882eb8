package server

import (
	"context"
	"net"
	"syscall"
)

// A large file goes out corked (TCP_CORK on Linux, as nginx's
// tcp_nopush): the kernel then sends only full segments, and the headers
// with the first of them, until the file is handed over and the cork is
// taken out, which sends the rest at once. Measured on loopback with
// curl: 1 GiB at 2.6-3.1 GB/s corked against 1.9-2.1 GB/s (and nginx
// 2.5-2.8 GB/s; nginx without tcp_nopush 1.8-1.9 GB/s). Left in, the
// cork would hold a partial last segment for 200 ms.

// corkFrom is the smallest body worth corking: smaller ones fit in a few
// segments, and the two system calls are not worth it.
const corkFrom = 256 << 10

type connKey struct{}

// withConn is the server's ConnContext: it keeps each connection in its
// requests' context, for cork.
func withConn(ctx context.Context, c net.Conn) context.Context {
	if sc, ok := c.(syscall.Conn); ok {
		return context.WithValue(ctx, connKey{}, sc)
	}
	return ctx
}

// cork corks the request's connection for a body of size bytes, and
// returns what takes the cork out. It does nothing for small bodies or
// connections that are not plain TCP (TLS encrypts in the process, with
// no sendfile to batch).
func cork(ctx context.Context, size int64) (uncork func()) {
	sc, ok := ctx.Value(connKey{}).(syscall.Conn)
	if !ok || size < corkFrom {
		return func() {}
	}
	raw, err := sc.SyscallConn()
	if err != nil || !setCork(raw, true) {
		return func() {}
	}
	return func() { setCork(raw, false) }
}
