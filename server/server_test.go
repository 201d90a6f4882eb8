package server_test

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"hangar/blob"
	"hangar/config"
)

func TestSignedDownload(t *testing.T) {
	e := newEnv(t)
	content := randomBytes(300_000)
	f := e.addFile("App.ipa", "application/octet-stream", content)
	u := e.srv.SignedURL(f)

	resp, body := do(t, "GET", u, nil)
	wantCode(t, resp, body, http.StatusOK)
	if !bytes.Equal(body, content) {
		t.Fatalf("body: got %d bytes, want the %d stored", len(body), len(content))
	}
	h := resp.Header
	if got, want := h.Get("ETag"), `"`+f.Checksum+`"`; got != want {
		t.Errorf("ETag: got %s, want %s", got, want)
	}
	if got := h.Get("Content-Length"); got != "300000" {
		t.Errorf("Content-Length: got %s, want 300000", got)
	}
	if got := h.Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("Content-Type: got %s", got)
	}
	if got := h.Get("Content-Disposition"); got != `attachment; filename="App.ipa"` {
		t.Errorf("Content-Disposition: got %s", got)
	}
	if got := h.Get("Accept-Ranges"); got != "bytes" {
		t.Errorf("Accept-Ranges: got %q", got)
	}
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil || !lm.Equal(f.UpdatedAt.Truncate(time.Second)) {
		t.Errorf("Last-Modified: got %s (%v), want %s", h.Get("Last-Modified"), err, f.UpdatedAt)
	}

	// HEAD: same headers, no body.
	resp, body = do(t, "HEAD", u, nil)
	wantCode(t, resp, body, http.StatusOK)
	if len(body) != 0 || resp.Header.Get("Content-Length") != "300000" {
		t.Fatalf("HEAD: got %d body bytes, Content-Length %s", len(body), resp.Header.Get("Content-Length"))
	}

	// The file name is a path segment: names with spaces and non-ASCII
	// characters round-trip through the signed URL.
	g := e.addFile("Mon App été #2.apk", "application/vnd.android.package-archive", []byte("apk"))
	resp, body = do(t, "GET", e.srv.SignedURL(g), nil)
	wantCode(t, resp, body, http.StatusOK)
	if string(body) != "apk" {
		t.Fatalf("got %q", body)
	}
}

func TestSignedDownloadRejects(t *testing.T) {
	e := newEnv(t)
	f := e.addFile("app.ipa", "", []byte("payload"))
	other := e.addFile("other.ipa", "", []byte("other payload"))
	good := e.srv.SignedURL(f)
	parsed, _ := url.Parse(good)
	q := parsed.Query()

	withQuery := func(key, value string) string {
		u := *parsed
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set(key, value)
		u.RawQuery = q2.Encode()
		return u.String()
	}
	sig := q.Get("sig")
	flipped := "A" + sig[1:]
	if sig[0] == 'A' {
		flipped = "B" + sig[1:]
	}

	tests := []struct {
		name string
		url  string
		want int
	}{
		{"tampered signature", withQuery("sig", flipped), http.StatusForbidden},
		{"extended expiry", withQuery("exp", "99999999999"), http.StatusForbidden},
		{"unknown key", withQuery("kid", "nope"), http.StatusForbidden},
		{"no signature", e.ts.URL + parsed.Path, http.StatusForbidden},
		{"other file id", strings.Replace(good, f.ID, other.ID, 1), http.StatusForbidden},
		{"other file name", strings.Replace(good, "/app.ipa?", "/evil.ipa?", 1), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, "GET", tt.url, nil)
			wantCode(t, resp, body, tt.want)
			wantWorkspaceError(t, body, "FORBIDDEN")
		})
	}

	t.Run("expired", func(t *testing.T) {
		e.advance(config.Default().SignedURLTTL + time.Second)
		defer e.advance(-(config.Default().SignedURLTTL + time.Second))
		resp, body := do(t, "GET", good, nil)
		wantCode(t, resp, body, http.StatusForbidden)
	})

	t.Run("deleted file", func(t *testing.T) {
		resp, body := do(t, "GET", good, nil)
		wantCode(t, resp, body, http.StatusOK)
		e.deleteFile(f.ID)
		resp, body = do(t, "GET", good, nil)
		wantCode(t, resp, body, http.StatusNotFound)
		wantWorkspaceError(t, body, "NOT_FOUND")
		if _, err := e.blobs.Stat(blob.Ref(mustRef(t, f.Checksum))); err == nil {
			t.Fatal("blob of the deleted file is still on disk")
		}
	})
}

func mustRef(t *testing.T, s string) blob.Ref {
	t.Helper()
	r, err := blob.ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSharedBlobSurvivesOneDelete(t *testing.T) {
	e := newEnv(t)
	content := []byte("the same bytes twice")
	a := e.addFile("a.zip", "", content)
	b := e.addFile("b.zip", "", content)
	if a.Checksum != b.Checksum {
		t.Fatal("same content, different checksums")
	}
	if n, _ := e.store.BlobRefCount(a.Checksum); n != 2 {
		t.Fatalf("refs: got %d, want 2", n)
	}
	e.deleteFile(a.ID)
	resp, body := do(t, "GET", e.srv.SignedURL(b), nil)
	wantCode(t, resp, body, http.StatusOK)
	if !bytes.Equal(body, content) {
		t.Fatalf("got %q", body)
	}
	e.deleteFile(b.ID)
	if _, err := e.blobs.Stat(mustRef(t, a.Checksum)); err == nil {
		t.Fatal("blob still on disk after its last file was deleted")
	}
}

func TestRanges(t *testing.T) {
	e := newEnv(t)
	content := randomBytes(10_000)
	f := e.addFile("big.bin", "", content)
	u := e.srv.SignedURL(f)
	etag := `"` + f.Checksum + `"`

	tests := []struct {
		name     string
		header   http.Header
		wantCode int
		wantBody []byte
	}{
		{"first bytes", http.Header{"Range": {"bytes=0-99"}}, http.StatusPartialContent, content[:100]},
		{"middle", http.Header{"Range": {"bytes=5000-5009"}}, http.StatusPartialContent, content[5000:5010]},
		{"suffix", http.Header{"Range": {"bytes=-10"}}, http.StatusPartialContent, content[9990:]},
		{"resume to end", http.Header{"Range": {"bytes=9000-"}}, http.StatusPartialContent, content[9000:]},
		{"unsatisfiable", http.Header{"Range": {"bytes=20000-"}}, http.StatusRequestedRangeNotSatisfiable, nil},
		{"If-Range with matching ETag", http.Header{"Range": {"bytes=0-9"}, "If-Range": {etag}}, http.StatusPartialContent, content[:10]},
		{"If-Range with stale ETag", http.Header{"Range": {"bytes=0-9"}, "If-Range": {`"stale"`}}, http.StatusOK, content},
		{"If-None-Match", http.Header{"If-None-Match": {etag}}, http.StatusNotModified, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, "GET", u, tt.header)
			wantCode(t, resp, body, tt.wantCode)
			if tt.wantBody != nil && !bytes.Equal(body, tt.wantBody) {
				t.Fatalf("body: got %d bytes, want %d", len(body), len(tt.wantBody))
			}
		})
	}
}

func TestContentDispositionIsSafe(t *testing.T) {
	e := newEnv(t)
	names := []string{
		`quote".ipa`,
		"crlf\r\nSet-Cookie: x=1.ipa",
		`back\slash.apk`,
		"naïve 日本語.zip",
		"percent%41.zip",
		"semi;colon=.zip",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			f := e.addFile(name, "", []byte(name))
			resp, body := do(t, "GET", e.srv.SignedURL(f), nil)
			wantCode(t, resp, body, http.StatusOK)
			if resp.Header.Get("Set-Cookie") != "" {
				t.Fatal("header injection through the file name")
			}
			cd := resp.Header.Get("Content-Disposition")
			_, params, err := mime.ParseMediaType(cd)
			if err != nil {
				t.Fatalf("unparseable Content-Disposition %q: %v", cd, err)
			}
			// mime decodes filename* (RFC 2231/5987) into "filename".
			if params["filename"] != name {
				t.Fatalf("filename: got %q, want %q (header %q)", params["filename"], name, cd)
			}
		})
	}
}

func TestRequestLogHasNoSignature(t *testing.T) {
	e := newEnv(t)
	f := e.addFile("app.ipa", "", []byte("x"))
	u := e.srv.SignedURL(f)
	resp, body := do(t, "GET", u, nil)
	wantCode(t, resp, body, http.StatusOK)
	sig := u[strings.Index(u, "sig=")+4:]
	logs := e.logs.String()
	if !strings.Contains(logs, "/dl/"+f.ID) {
		t.Fatalf("request not logged: %s", logs)
	}
	if strings.Contains(logs, sig) || strings.Contains(logs, "sig=") {
		t.Fatalf("signature in the log: %s", logs)
	}
}

func TestHealthAndUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	resp, body := do(t, "GET", e.ts.URL+"/healthz", nil)
	wantCode(t, resp, body, http.StatusOK)
	resp, body = do(t, "GET", e.ts.URL+"/readyz", nil)
	wantCode(t, resp, body, http.StatusOK)

	resp, body = do(t, "GET", e.ts.URL+"/api/v1/nope", nil)
	wantCode(t, resp, body, http.StatusNotFound)
	wantWorkspaceError(t, body, "NOT_FOUND")

	// Under /v1/ answers use the organization envelope.
	resp, body = do(t, "GET", e.ts.URL+"/v1/nope", nil)
	wantCode(t, resp, body, http.StatusNotFound)
	var env struct {
		Status bool
		Error  struct {
			Code    int
			Message string
		}
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Status || env.Error.Code != 3001 {
		t.Fatalf("got %s, want the organization envelope with code 3001", body)
	}

	resp, body = do(t, "POST", e.ts.URL+"/healthz", nil)
	wantCode(t, resp, body, http.StatusMethodNotAllowed)
}
