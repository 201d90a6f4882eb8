package server

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Warnings the console shows instance admins when what Hangar hands out
// will not work on a phone: addresses that name this machine's loopback,
// and installs that need HTTPS a phone trusts. Each says the one step that
// fixes it.

// reachWarnings looks at the base URLs links are made on: the request's
// (pages, QR codes) and public_url (mail, webhooks).
func (s *Server) reachWarnings(c *call) []string {
	var out []string
	for _, base := range []string{c.base, s.cfg.PublicURL} {
		u, err := url.Parse(base)
		if err != nil || !loopbackHost(u.Hostname()) {
			continue
		}
		out = append(out, "Links, QR codes and mails name "+u.Host+", which only this machine can open: phones cannot reach it. "+
			"Set public_url (and listen) to an address on your network, e.g. listen = \"0.0.0.0:8443\" with tls_mode = \"local-ca\", and open the console there.")
		break
	}
	if u, err := url.Parse(s.cfg.PublicURL); err == nil && u.Scheme == "http" && !strings.HasPrefix(c.base, "https://") {
		out = append(out, "iPhones and iPads install apps only over HTTPS they trust, and this server hands out http:// addresses. "+
			"Set tls_mode = \"local-ca\" (phones get the CA from /trust), or put Hangar behind a proxy with a certificate and set public_url to its https:// address.")
	}
	return out
}

// loopbackHost reports whether a URL's host is this machine only.
func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().IsLoopback()
	}
	return net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback()
}
