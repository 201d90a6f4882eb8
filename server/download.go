package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"hangar/depot"
	"hangar/store"
)

// redirectToFile answers 302 to a signed URL. Not cached: every use of a
// link or token must reach Hangar to be counted. No body: clients follow the
// Location (http.Redirect's HTML note cost 5% of the public-link path).
func redirectToFile(w http.ResponseWriter, signed string) {
	h := w.Header()
	h.Set("Location", signed)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// download serves a file through a signed URL: 403 for a URL that is not
// valid now, 404 for a file that no longer exists even if the URL is, and
// otherwise the bytes, with ranges, conditional requests and sendfile (see
// logWriter) from http.ServeContent.
func (s *Server) download(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.keys.Verify(r.Method, r.URL.Path, r.URL.RawQuery, s.now()); err != nil {
		return errForbidden("the download URL is invalid or has expired")
	}
	f, err := s.store.File(c.params.ByName("fileId"))
	if err != nil || f.Name != c.params.ByName("fileName") {
		return errNotFound("file")
	}
	if s.depot.Remote() != nil && s.cfg.Blobs.Delivery != "proxy" {
		// The bytes come from the store: a presigned URL with this file's
		// type and name, valid as long as a counted redirect's.
		u, err := s.depot.FileURL(f, contentDisposition(f.Name), redirectURLTTL)
		if err != nil {
			return err
		}
		redirectToFile(w, u)
		return nil
	}
	fh, err := s.openContent(r, f)
	if errors.Is(err, depot.ErrDamaged) {
		err = errDamaged
	}
	if err != nil {
		return notFoundAs(err, "file") // not found: deleted since it was read
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
	defer cork(r.Context(), f.Size)()
	http.ServeContent(w, r, "", f.UpdatedAt, fh)
	return nil
}

// openContent opens a file's bytes: the local file (served with
// sendfile), or in proxy mode the bucket's object (with ranges).
func (s *Server) openContent(r *http.Request, f store.File) (io.ReadSeekCloser, error) {
	if s.depot.Remote() != nil {
		return s.depot.OpenRemoteFile(r.Context(), f)
	}
	return s.depot.OpenFile(f)
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
