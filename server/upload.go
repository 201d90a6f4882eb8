package server

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"hangar/depot"
	"hangar/store"
)

// The upload path: multipart forms and raw bodies are read here, part by
// part, and each file's bytes stream into depot.AddFile (hashed and
// written in parallel, never held whole), which records the file under
// the blob's lock.

// storeFile streams body into the data directory as a file of the build,
// its type, extension and MIME type decided here. Over max_upload_size the
// error wraps depot.ErrTooLarge, over the workspace quota
// store.ErrQuotaExceeded; either way nothing is left behind.
func (s *Server) storeFile(buildID, fileType, name string, body io.Reader) (store.File, error) {
	return s.storeDeclared(depot.NewFile{BuildID: buildID, Type: fileType, Name: name, Extension: extension(name), MimeType: mimeType(name), Size: -1}, body)
}

func (s *Server) storeDeclared(nf depot.NewFile, body io.Reader) (store.File, error) {
	s.metrics.uploadsLive.Inc()
	defer s.metrics.uploadsLive.Dec()
	return s.depot.AddFile(nf, body)
}

// contentDigest reads the SHA-256 a client declares for its body (RFC 9530:
// Content-Digest: sha-256=:BASE64:, among other algorithms, which are
// ignored). nil when there is none.
func contentDigest(h http.Header) ([]byte, error) {
	v := h.Get("Content-Digest")
	if v == "" {
		return nil, nil
	}
	for _, member := range strings.Split(v, ",") {
		alg, val, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || !strings.EqualFold(alg, "sha-256") {
			continue
		}
		sum, err := base64.StdEncoding.DecodeString(strings.Trim(val, ":"))
		if err != nil || len(sum) != sha256.Size || !strings.HasPrefix(val, ":") || !strings.HasSuffix(val, ":") {
			return nil, errBadRequest("Content-Digest: sha-256 must be the body's SHA-256 in base64 between colons (RFC 9530)")
		}
		return sum, nil
	}
	return nil, nil
}

// awaitsContinue says the client sends the body only once told to
// (Expect: 100-continue; net/http tells it at the first read of the body).
// Over HTTP/2 net/http handles the header itself and removes it.
func awaitsContinue(r *http.Request) bool {
	return r.ProtoAtLeast(1, 1) && strings.EqualFold(r.Header.Get("Expect"), "100-continue")
}

// bodyOptional says the request may be answered without reading its body:
// over HTTP/1.1 when the client waits for 100 Continue (the connection is
// then closed, see logWriter.start), over HTTP/2 always (the stream is
// ended, which RFC 9113 8.1 allows once the answer is complete).
func bodyOptional(r *http.Request) bool {
	return r.ProtoMajor >= 2 || awaitsContinue(r)
}

// maxParts bounds the parts of one upload form (files and fields).
const maxParts = 64

// multipartFields reads a multipart body part by part. Files in parts named
// fileField go to onFile; other parts are form fields of at most
// max_request_body bytes, passed to onField. A form of more than maxParts
// parts is refused.
func (s *Server) multipartFields(r *http.Request, fileField string, onField func(name, value string) error, onFile func(name string, body io.Reader) error) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return errBadRequest("expected a multipart/form-data body: " + err.Error())
	}
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			if parts == 0 {
				// Also what a body without the boundary looks like.
				return errBadRequest("the multipart form has no parts")
			}
			return nil
		}
		if err != nil {
			return bodyErr(err)
		}
		if parts == maxParts {
			return errBadRequest(fmt.Sprintf("a form may have at most %d parts", maxParts))
		}
		if part.FileName() != "" || part.FormName() == fileField {
			if part.FormName() == fileField && rawFileName(part) == "" {
				// A browser's file input left empty sends a part with no
				// file name and no bytes: no file.
				var one [1]byte
				if n, _ := io.ReadFull(part, one[:]); n == 0 {
					continue
				}
			}
			if part.FormName() != fileField {
				return errBadRequest(fmt.Sprintf("unexpected file in form field %q; files go in %q parts", part.FormName(), fileField))
			}
			name, err := safeFileName(rawFileName(part))
			if err != nil {
				return err
			}
			if err := onFile(name, part); err != nil {
				return err
			}
			continue
		}
		value, err := io.ReadAll(io.LimitReader(part, s.cfg.MaxRequestBody+1))
		if err != nil {
			return bodyErr(err)
		}
		if int64(len(value)) > s.cfg.MaxRequestBody {
			return errTooLarge(fmt.Sprintf("form field %q is too large", part.FormName()))
		}
		if err := onField(part.FormName(), string(value)); err != nil {
			return err
		}
	}
}

// rawFileName is the part's file name as sent. multipart.Part.FileName
// strips directories with the server's path rules; safeFileName applies
// stricter ones to the raw value.
func rawFileName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return p.FileName()
	}
	return params["filename"]
}

// bodyErr keeps the size-limit error (413) and reports any other failure to
// read the body as the client's (a dropped connection, broken framing).
func bodyErr(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	return errBadRequest("could not read the request body: " + err.Error())
}

// safeFileName returns the base name of a client-supplied file name: the
// part after the last '/' or '\', without control characters or
// bidirectional formatting characters, at most 255 bytes. Names that come out empty, "." or ".." are refused. File names
// appear in URLs and headers but never in paths on disk (blobs are named by
// hash), so this is about clean URLs and headers, not traversal.
func safeFileName(name string) (string, error) {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError || isBidiControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		return "", errBadRequest("a file needs a name (the multipart filename, or ?name= for a raw upload)")
	}
	return name, nil
}

// isBidiControl reports whether r reorders the text around it (Unicode's
// Bidi_Control characters): "invoice\u202Egpj.exe" shows as
// "invoiceexe.jpg" in a page or a download dialog.
func isBidiControl(r rune) bool {
	return unicode.Is(unicode.Bidi_Control, r)
}

// extension is the file name's extension without the dot, lowercase.
func extension(name string) string {
	return strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
}

// buildTypes names the formats Hangar is for; the rest come from the
// standard library's table.
var buildTypes = map[string]string{
	"ipa":  "application/octet-stream",
	"apk":  "application/vnd.android.package-archive",
	"aab":  "application/octet-stream",
	"zip":  "application/zip",
	"dsym": "application/octet-stream",
	"dmg":  "application/x-apple-diskimage",
	"exe":  "application/vnd.microsoft.portable-executable",
	"msi":  "application/x-msi",
}

// mimeType is the stored Content-Type for a file name. It comes from the
// extension, never from the client, and types a browser would render or run
// (HTML, SVG, XML, JavaScript) are stored as application/octet-stream:
// Hangar serves uploads from its own origin.
func mimeType(name string) string {
	ext := extension(name)
	if t, ok := buildTypes[ext]; ok {
		return t
	}
	t := mime.TypeByExtension("." + ext)
	base, _, _ := strings.Cut(t, ";")
	switch {
	case t == "",
		strings.Contains(base, "html"), strings.Contains(base, "xml"),
		strings.Contains(base, "javascript"), strings.Contains(base, "svg"):
		return "application/octet-stream"
	}
	return t
}
