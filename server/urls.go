package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"hangar/store"
)

// Every URL Hangar hands out is built here: signed download URLs, the base
// they go on, public links, install pages and their manifest and QR code.

// SignedURL returns the absolute URL, on the configured base, that
// downloads f until the signed URL TTL runs out.
func (s *Server) SignedURL(f store.File) string { return s.signedURL(s.cfg.PublicURL, f.ID, f.Name) }

// signedURL signs the download path of a file under base, for
// signed_url_ttl: what a member of the workspace asks for (the API, the
// install page's images). The signature covers the decoded path only, so it
// survives a proxy that re-encodes the file name, and any base the client
// reaches Hangar by.
func (s *Server) signedURL(base, fileID, name string) string {
	return s.signedURLFor(base, fileID, name, s.cfg.SignedURLTTL)
}

// redirectURLTTL is how long a signed URL handed out by a counted redirect
// (a public link, a single-use download token) stays valid: long enough to
// follow the redirect, too short to share. Otherwise a link limited to one
// download would give a URL good for any number of downloads for
// signed_url_ttl. A download that has started is not cut at expiry; a
// resume after it goes through the link again.
const redirectURLTTL = time.Minute

func (s *Server) signedURLFor(base, fileID, name string, ttl time.Duration) string {
	exp := s.now().Add(ttl)
	q := s.keys.Sign(http.MethodGet, "/dl/"+fileID+"/"+name, exp)
	return base + "/dl/" + fileID + "/" + url.PathEscape(name) + "?" + q
}

// baseURL is the base of the URLs in an answer to r: public_url when it is
// set. Otherwise the host the client reached (its Host header: testers on the
// LAN get links they can open) if it is one this instance answers to
// (hosts.go), over https when the connection is TLS; a trusted proxy's
// X-Forwarded-Proto and X-Forwarded-Host take precedence. Any other Host
// gets the configured address: a request cannot choose where the links of
// a page or manifest point.
func (s *Server) baseURL(r *http.Request) string {
	if !s.cfg.PublicURLDerived {
		return s.cfg.PublicURL
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	proxied := false
	if len(s.cfg.TrustedProxies) > 0 && s.trusted(s.peer(r)) {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" {
			host, proxied = h, true // the proxy, trusted, vouches for it
		}
	}
	if !validHost(host) || !proxied && !s.hosts.known(host, s.now()) {
		return s.cfg.PublicURL
	}
	return scheme + "://" + host
}

// firstValue is the first of a comma-separated header's values.
func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(v))
}

// validHost accepts a host[:port] that can go into a URL as it is: letters,
// digits, dots, dashes, colons and brackets (IPv6), nothing that could end
// the authority or start a path.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-:[]", c) >= 0) {
			return false
		}
	}
	return true
}

// installURL is the install page of a link.
func installURL(base, linkID string) string { return base + "/p/" + linkID }

// publicURL is where testers download a file through a link.
func publicURL(base, linkID, fileName string) string {
	return base + "/api/v1/public/file/" + linkID + "/" + url.PathEscape(fileName)
}
