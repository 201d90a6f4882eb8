package sdnotify_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"hangar/sdnotify"
)

func TestNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	if err := sdnotify.Notify("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdnotify.Notify("READY=1"); err != nil {
		t.Fatalf("outside systemd: %v", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if got := sdnotify.WatchdogInterval(); got != 15*time.Second {
		t.Fatalf("got %v, want 15s", got)
	}
	t.Setenv("WATCHDOG_PID", "1")
	if got := sdnotify.WatchdogInterval(); got != 0 {
		t.Fatalf("watchdog of another process: got %v", got)
	}
	t.Setenv("WATCHDOG_USEC", "")
	if got := sdnotify.WatchdogInterval(); got != 0 {
		t.Fatalf("no watchdog: got %v", got)
	}
}
