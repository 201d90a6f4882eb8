package server

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"hangar/config"
)

// hosts are the names this instance answers to, for URLs built from a
// request's Host when public_url is not set: a Host header is the
// client's word, and a page or manifest must not send testers (or an
// icon's signed URL) to whatever name a request claimed. Known: localhost
// and *.localhost, loopback addresses, the machine's own addresses, its
// host name (and name.local), tls_names, and the hosts of listen and of
// the derived public URL.
type hosts struct {
	names map[string]bool

	mu      sync.Mutex
	addrs   map[netip.Addr]bool
	readAt  time.Time
	machine func() ([]net.Addr, error) // net.InterfaceAddrs
}

// hostsRereadAfter bounds how often an unknown address makes the machine's
// addresses be read again (DHCP may give it a new one while it runs).
const hostsRereadAfter = 30 * time.Second

func newHosts(cfg config.Config) *hosts {
	h := &hosts{names: map[string]bool{"localhost": true}, machine: net.InterfaceAddrs}
	add := func(hostport string) {
		if host := hostOnly(hostport); host != "" {
			h.names[host] = true
		}
	}
	for _, n := range cfg.TLSNames {
		add(n)
	}
	add(cfg.Listen)
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		add(u.Host)
	}
	if name, err := os.Hostname(); err == nil {
		add(name)
		add(name + ".local")
	}
	return h
}

// hostOnly is a Host header's or address's host: lower case, without
// port, brackets or a trailing dot.
func hostOnly(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return strings.ToLower(host)
}

// known reports whether hostport names this instance.
func (h *hosts) known(hostport string, now time.Time) bool {
	host := hostOnly(hostport)
	if host == "" {
		return false
	}
	if h.names[host] || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return true
	}
	if ip.IsUnspecified() {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.addrs[ip] && now.Sub(h.readAt) >= hostsRereadAfter {
		h.read(now)
	}
	return h.addrs[ip]
}

// read rereads the machine's addresses; h.mu is held.
func (h *hosts) read(now time.Time) {
	h.readAt = now
	addrs, err := h.machine()
	if err != nil {
		return // keep what was known
	}
	h.addrs = map[netip.Addr]bool{}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				h.addrs[ip.Unmap()] = true
			}
		}
	}
}
