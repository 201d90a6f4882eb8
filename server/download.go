package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"hangar/depot"
	"hangar/store"
)

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

// redirectToFile answers 302 to a signed URL. Not cached: every use of a
// link or token must reach Hangar to be counted. No body: clients follow the
// Location (http.Redirect's HTML note cost 5% of the public-link path).
func redirectToFile(w http.ResponseWriter, signed string) {
	h := w.Header()
	h.Set("Location", signed)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// baseURL is the base of the URLs in an answer to r: public_url when it is
// set. Otherwise the host the client reached (its Host header: testers on the
// LAN get links they can open), over https when the connection is TLS; a
// trusted proxy's X-Forwarded-Proto and X-Forwarded-Host take precedence.
func (s *Server) baseURL(r *http.Request) string {
	if !s.cfg.PublicURLDerived {
		return s.cfg.PublicURL
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if len(s.cfg.TrustedProxies) > 0 && s.trusted(s.peer(r)) {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" {
			host = h
		}
	}
	if !validHost(host) {
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

// download serves a file through a signed URL: 403 for a URL that is not
// valid now, 404 for a file that no longer exists even if the URL is, and
// otherwise the bytes, with ranges, conditional requests and sendfile (see
// logWriter) from http.ServeContent.
func (s *Server) download(w http.ResponseWriter, r *http.Request, c *call) {
	if err := s.keys.Verify(r.Method, r.URL.Path, r.URL.RawQuery, s.now()); err != nil {
		s.fail(w, r, errForbidden("the download URL is invalid or has expired"))
		return
	}
	f, err := s.store.File(c.params.ByName("fileId"))
	if err != nil || f.Name != c.params.ByName("fileName") {
		s.fail(w, r, errNotFound("file"))
		return
	}
	fh, err := s.depot.OpenFile(f)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = errNotFound("file") // deleted since it was read
	case errors.Is(err, depot.ErrDamaged):
		err = errDamaged
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer fh.Close()

	h := w.Header()
	ctype := f.MimeType
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", contentDisposition(f.Name))
	h.Set("ETag", `"`+f.Checksum+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	// The URL is a credential with an expiry: shared caches must not keep it.
	h.Set("Cache-Control", "private, no-transform")
	http.ServeContent(w, r, "", f.UpdatedAt, fh)
}

// contentDisposition returns an attachment header for any file name (RFC
// 6266): a plain-ASCII filename= fallback with anything unsafe replaced by
// '_', and the exact name as an RFC 5987 filename*= in percent-encoded UTF-8.
// Quotes, backslashes and control characters (CR/LF above all) never reach
// the header unencoded.
func contentDisposition(name string) string {
	var fallback, exact strings.Builder
	for _, r := range name {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' && r != '%' {
			fallback.WriteRune(r)
		} else {
			fallback.WriteByte('_')
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAttrChar(c) {
			exact.WriteByte(c)
		} else {
			fmt.Fprintf(&exact, "%%%02X", c)
		}
	}
	v := `attachment; filename="` + fallback.String() + `"`
	if exact.Len() != len(name) || fallback.String() != name {
		v += "; filename*=UTF-8''" + exact.String()
	}
	return v
}

// isAttrChar reports whether c may appear unencoded in an RFC 5987 value.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
