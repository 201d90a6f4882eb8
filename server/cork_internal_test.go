package server

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A large body's connection is corked while it is handed over and
// uncorked after (a cork left in holds the last segment 200 ms); small
// bodies and TLS connections are left alone.
func TestCork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_CORK is Linux's")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	corked := func() int {
		t.Helper()
		raw, _ := conn.(syscall.Conn).SyscallConn()
		var v int
		var gerr error
		raw.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK) })
		if gerr != nil {
			t.Fatal(gerr)
		}
		return v
	}
	ctx := withConn(context.Background(), conn)

	uncork := cork(ctx, corkFrom)
	if corked() != 1 {
		t.Fatal("a large body's connection is not corked")
	}
	uncork()
	if corked() != 0 {
		t.Fatal("the cork was left in")
	}
	cork(ctx, corkFrom-1)
	if corked() != 0 {
		t.Fatal("a small body's connection was corked")
	}
	cork(withConn(context.Background(), tls.Server(conn, &tls.Config{})), corkFrom)()
	if corked() != 0 {
		t.Fatal("a TLS connection was corked")
	}
}
