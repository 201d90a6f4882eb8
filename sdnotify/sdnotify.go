// Package sdnotify speaks systemd's notify protocol: one datagram with
// "KEY=value" lines to the socket named by $NOTIFY_SOCKET. Outside systemd
// (no $NOTIFY_SOCKET) every call does nothing.
package sdnotify

import (
	"net"
	"os"
	"strconv"
	"time"
)

// Notify sends state ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=…")
// to systemd. It returns nil when not running under systemd.
func Notify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if name[0] == '@' { // abstract socket
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}

// WatchdogInterval returns how often to send WATCHDOG=1 (half of
// $WATCHDOG_USEC, as systemd advises), or 0 when the watchdog is off or
// meant for another process.
func WatchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}
