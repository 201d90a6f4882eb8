package cli

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// hangar health: whether the server on this machine is ready, for a
// container's health check (the image has no shell, no curl) or a
// monitoring script. It asks the configured listener's /readyz over
// loopback.
func cmdHealth(args []string, stdout, stderr io.Writer) int {
	c := newAdminCmd("health", nil, stdout, stderr)
	timeout := c.fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := c.parse(args, 0, ""); err != nil {
		return runAdmin(stderr, err)
	}
	cfg, err := c.config()
	if err != nil {
		return runAdmin(stderr, err)
	}
	listen := cmp.Or(os.Getenv("HANGAR_LISTEN"), cfg.Listen) // as serve reads it
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return runAdmin(stderr, fmt.Errorf("listen %q: %w", listen, err))
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme, tr := "http", http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLSMode != "" && cfg.TLSMode != "off" {
		// Its own listener on this machine: readiness is the question,
		// not the certificate (which names the LAN, not loopback).
		scheme, tr.TLSClientConfig = "https", &tls.Config{InsecureSkipVerify: true}
	}
	client := &http.Client{Transport: tr, Timeout: *timeout}
	url := scheme + "://" + net.JoinHostPort(host, port) + "/readyz"
	resp, err := client.Get(url)
	if err != nil {
		return runAdmin(stderr, fmt.Errorf("not ready: %w", err))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return runAdmin(stderr, fmt.Errorf("not ready: %s answered %s: %s", url, resp.Status, body))
	}
	fmt.Fprintf(stdout, "ready: %s\n", url)
	return exitOK
}
