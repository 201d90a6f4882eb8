package cli

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hangar/pkginfo/pkgtest"
)

// countingProxy forwards TCP connections to addr and counts the bytes
// clients send through it: what the server received. refuse, while
// positive, closes that many connections at once (a network error).
type countingProxy struct {
	ln       net.Listener
	received atomic.Int64
	refuse   atomic.Int32
}

func newCountingProxy(t *testing.T, addr string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.refuse.Add(-1) >= 0 {
				c.Close()
				continue
			}
			go p.pipe(c, addr)
		}
	}()
	return p
}

func (p *countingProxy) pipe(c net.Conn, addr string) {
	defer c.Close()
	s, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer s.Close()
	go func() {
		io.Copy(c, s)
		c.Close()
	}()
	io.Copy(countingWriter{s, &p.received}, c)
}

// countingWriter counts as it writes: a kept-alive connection's count
// must be right before it closes.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (p *countingProxy) url() string { return "http://" + p.ln.Addr().String() }

// uploadTarget starts a server with workspace acme and project app and
// returns its URL and an admin token.
func uploadTarget(t *testing.T) (string, string) {
	t.Helper()
	base, stderr, stop := startServe(t, filepath.Join(t.TempDir(), "data"))
	t.Cleanup(func() { stop() })
	admin := firstToken(t, stderr.String())
	apiCall(t, "POST", base+"/api/v1/workspace", admin, "", strings.NewReader(`{"slug":"acme"}`), nil)
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project", admin, "", strings.NewReader(`{"slug":"app"}`), nil)
	return base, admin
}

func writeFiles(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// `hangar upload` publishes a build, and a rerun of the same files sends
// none of their bytes: the server holds them, and says so before they go.
func TestUploadCommand(t *testing.T) {
	base, admin := uploadTarget(t)
	u, _ := url.Parse(base)
	proxy := newCountingProxy(t, u.Host)
	dsym := make([]byte, 4<<20)
	rand.Read(dsym)
	dir := writeFiles(t, map[string][]byte{"Demo.ipa": pkgtest.IPA(pkgtest.DemoApp), "Demo.dSYM.zip": dsym, "notes.md": []byte("Fixes login\n")})
	t.Setenv("HANGAR_TOKEN", admin)
	t.Setenv("HANGAR_SERVER", proxy.url())
	args := []string{"upload", "-project", "acme/app", filepath.Join(dir, "Demo.ipa"), filepath.Join(dir, "Demo.dSYM.zip"),
		"--version", "1.4.0", "--build-number", "812", "--notes-file", filepath.Join(dir, "notes.md"), "--tag", "beta", "--tag", "rc,ios", "--link", "--json"}

	var runs []uploadResult
	for i := range 2 {
		proxy.received.Store(0)
		code, out, errOut := hangarCmd(t, args...)
		var res uploadResult
		if code != exitOK || json.Unmarshal([]byte(out), &res) != nil {
			t.Fatalf("run %d: exit %d\n%s\n%s", i, code, out, errOut)
		}
		if res.Status != "processed" || res.AppName == "" || res.Version != "2.4.1" || res.BuildNumber != "241" || len(res.Files) != 2 ||
			!strings.HasPrefix(res.PageURL, proxy.url()+"/p/") || res.ConsoleURL != proxy.url()+"/w/acme/p/app/b/"+res.BuildID {
			t.Fatalf("run %d: %+v", i, res)
		}
		received := proxy.received.Load()
		switch i {
		case 0:
			if res.Files[0].Sent != res.Files[0].Size || res.Files[1].Sent != 4<<20 || received < 4<<20 {
				t.Fatalf("first run sent %+v, the server received %d bytes", res.Files, received)
			}
			if !strings.Contains(errOut, "Demo.dSYM.zip: 25% sent") || !strings.Contains(errOut, "Demo.dSYM.zip: sent 4.0 MiB") {
				t.Fatalf("plain progress lines: %s", errOut)
			}
		case 1:
			// Headers and small JSON bodies only: nothing of the files.
			t.Logf("the rerun's requests: %d bytes", received)
			if res.Files[0].Sent != 0 || res.Files[1].Sent != 0 || received > 16<<10 {
				t.Fatalf("rerun sent %+v, the server received %d bytes", res.Files, received)
			}
			if !strings.Contains(errOut, "Demo.dSYM.zip: the server holds it already; not sent") {
				t.Fatalf("rerun's progress lines: %s", errOut)
			}
		}
		runs = append(runs, res)
	}
	if runs[0].BuildID == runs[1].BuildID {
		t.Fatal("a rerun made no new build")
	}

	// The build holds what was asked: labels, notes, tags, both files.
	var b struct {
		Version, BuildNumber, Notes string
		Tags                        []string
		Files                       []struct{ Name, Type, Checksum string }
	}
	apiCall(t, "GET", base+"/api/v1/workspace/acme/project/app/build/"+runs[1].BuildID, admin, "", nil, &b)
	if b.Version != "1.4.0" || b.BuildNumber != "812" || b.Notes != "Fixes login\n" || strings.Join(b.Tags, ",") != "beta,rc,ios" ||
		len(b.Files) < 2 || b.Files[0].Type != "package" || b.Files[0].Checksum != runs[0].Files[0].SHA256 {
		t.Fatalf("the build: %+v", b)
	}
	// The tester page works.
	resp, err := http.Get(runs[1].PageURL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the tester page: %v %v", resp, err)
	}
	resp.Body.Close()

	// With an app token (the project's settings make one for CI): it
	// uploads, but may not read builds, so it does not wait; -link needs a
	// publishing scope.
	var app struct{ Token string }
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project/app/app-token", admin, "", strings.NewReader(`{"name":"ci"}`), &app)
	if code, out, errOut := hangarCmd(t, "upload", "-token", app.Token, "-project", "acme/app", filepath.Join(dir, "Demo.ipa")); code != exitOK ||
		!strings.HasPrefix(out, "build ") || strings.Contains(out, "status") || !strings.Contains(errOut, "not waiting") {
		t.Fatalf("with an app token: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := hangarCmd(t, "upload", "-token", app.Token, "-project", "acme/app", "-link", filepath.Join(dir, "Demo.ipa")); code != exitRefused || !strings.Contains(errOut, "its link not made") {
		t.Fatalf("-link with an upload-scoped app token: exit %d\n%s", code, errOut)
	}
	apiCall(t, "POST", base+"/api/v1/workspace/acme/project/app/app-token", admin, "", strings.NewReader(`{"name":"ci-pages","scope":"publish-openly"}`), &app)
	if code, out, errOut := hangarCmd(t, "upload", "-token", app.Token, "-project", "acme/app", "-link", filepath.Join(dir, "Demo.ipa")); code != exitOK || !strings.Contains(out, "page     "+proxy.url()+"/p/") {
		t.Fatalf("-link with a publish-openly app token: exit %d\n%s\n%s", code, out, errOut)
	}

	// Without -json: the build first, the tester page last.
	code, out, errOut := hangarCmd(t, "upload", "-project", "acme/app", "-link", filepath.Join(dir, "Demo.ipa"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || !strings.HasPrefix(lines[0], "build ") || !strings.Contains(out, "status   processed: ") ||
		!strings.HasPrefix(lines[len(lines)-1], "page     "+proxy.url()+"/p/") {
		t.Fatalf("plain output: exit %d\n%s\n%s", code, out, errOut)
	}
}

// Exit statuses tell CI what happened: refused (3), unreachable after its
// retries (4), stored but not processed (5), usage (2); network errors and
// 5xx answers are retried.
func TestUploadExitStatus(t *testing.T) {
	base, admin := uploadTarget(t)
	for _, v := range []string{"HANGAR_TOKEN", "HANGAR_SERVER", "HANGAR_PROJECT", "HANGAR_CACERT"} {
		t.Setenv(v, "")
	}
	defer func(d time.Duration) { uploadBackoff = d }(uploadBackoff)
	uploadBackoff = 10 * time.Millisecond
	dir := writeFiles(t, map[string][]byte{"Demo.ipa": pkgtest.IPA(pkgtest.DemoApp), "Broken.ipa": []byte("not a zip")})
	ipa := filepath.Join(dir, "Demo.ipa")
	closed := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		return "http://" + ln.Addr().String()
	}()

	// Two 503s, then the server: retried, published. The second asks for
	// a second's wait (Retry-After), which is kept to (with jitter: half
	// to all of it) over the test's 10 ms backoff.
	var failures atomic.Int32
	failures.Store(2)
	target, _ := url.Parse(base)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if left := failures.Add(-1); left >= 0 {
			if left == 0 {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"UNAVAILABLE","message":"restarting"}`)
			return
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	defer flaky.Close()
	// A connection closed at once, then the server.
	target2, _ := url.Parse(base)
	dropping := newCountingProxy(t, target2.Host)
	dropping.refuse.Store(1)

	for _, tc := range []struct {
		name  string
		args  []string
		want  int
		inErr string
	}{
		{"no files", []string{"-server", base, "-token", admin, "-project", "acme/app"}, exitUsage, "name the package"},
		{"no project", []string{"-server", base, "-token", admin, ipa}, exitUsage, "WORKSPACE/PROJECT"},
		{"no token", []string{"-server", base, "-project", "acme/app", ipa}, exitUsage, "HANGAR_TOKEN"},
		{"bad server", []string{"-server", "ftp://x", "-token", admin, "-project", "acme/app", ipa}, exitUsage, "http:// or https://"},
		{"missing file", []string{"-server", base, "-token", admin, "-project", "acme/app", filepath.Join(dir, "nope.ipa")}, exitFailure, "nope.ipa"},
		{"bad token", []string{"-server", base, "-token", "hgr_nope", "-project", "acme/app", ipa}, exitRefused, "401"},
		{"no such project", []string{"-server", base, "-token", admin, "-project", "acme/nope", ipa}, exitRefused, "404"},
		{"unreachable", []string{"-server", closed, "-token", admin, "-project", "acme/app", "-retries", "2", ipa}, exitUnreachable, "after 3 attempts"},
		{"unreadable package", []string{"-server", base, "-token", admin, "-project", "acme/app", filepath.Join(dir, "Broken.ipa")}, exitNotProcessed, "could not be read"},
		{"5xx, then up", []string{"-server", flaky.URL, "-token", admin, "-project", "acme/app", ipa}, exitOK, "503 UNAVAILABLE: restarting; retrying in 0s"},
		{"dropped, then up", []string{"-server", dropping.url(), "-token", admin, "-project", "acme/app", ipa}, exitOK, "retrying in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := hangarCmd(t, append([]string{"upload"}, tc.args...)...)
			if code != tc.want || !strings.Contains(errOut, tc.inErr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.want, out, errOut)
			}
			if tc.name == "5xx, then up" && !regexp.MustCompile(`restarting; retrying in ([5-9]00ms|1s)\n`).MatchString(errOut) {
				t.Fatalf("Retry-After: 1 was not kept to:\n%s", errOut)
			}
		})
	}
}
