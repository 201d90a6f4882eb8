package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hangar/blob"
	"hangar/certs"
	"hangar/config"
	"hangar/fsck"
)

func TestHostileFileNames(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"version", "", "1"})
	long := strings.Repeat("é", 5000) // 10,000 bytes
	tests := []struct{ name, want string }{
		{"../../etc/passwd", "passwd"},
		{"/etc/shadow", "shadow"},
		{`C:\Windows\evil.exe`, "evil.exe"},
		{"nul\x00byte.ipa", "nulbyte.ipa"},
		{"crlf\r\nSet-Cookie: x.ipa", "crlfSet-Cookie: x.ipa"},
		{"bad\xff\xfeutf8.apk", "badutf8.apk"},
		{long + ".ipa", strings.Repeat("é", 127)}, // cut to 255 bytes on a rune boundary
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.20q", tt.name), func(t *testing.T) {
			code, body := e.send("POST", projPath+"/build/"+b.BuildID+"/file?name="+url.QueryEscape(tt.name), admin, "application/octet-stream", []byte("x"))
			var files []struct{ Name, FileID string }
			if code != 201 || json.Unmarshal(body, &files) != nil {
				t.Fatalf("got %d: %s", code, body)
			}
			if files[0].Name != tt.want {
				t.Fatalf("name: got %q, want %q", files[0].Name, tt.want)
			}
			// And it downloads with a header that parses.
			code, signed := e.req("GET", projPath+"/build/file/"+files[0].FileID, admin, "")
			resp, got := do(t, "GET", string(signed), nil)
			if code != 200 || resp.StatusCode != 200 || string(got) != "x" || strings.ContainsAny(resp.Header.Get("Content-Disposition"), "\r\n") {
				t.Fatalf("download: %d %d %q", code, resp.StatusCode, resp.Header.Get("Content-Disposition"))
			}
		})
	}
	for _, name := range []string{"", "..", ".", "/", "\x00", "a/..", " "} {
		if code, _ := e.send("POST", projPath+"/build/"+b.BuildID+"/file?name="+url.QueryEscape(name), admin, "application/octet-stream", []byte("x")); code != 400 {
			t.Errorf("name %q: got %d, want 400", name, code)
		}
	}
}

func TestHostileNumbersAndBodies(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.MaxRequestBody = 1000 })
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "a.ipa", "a"})
	link := projPath + "/build/files/" + b.Files[0].FileID + "/public-link"
	for _, body := range []string{
		`{"downloadLimit": 1e30}`,
		`{"downloadLimit": 9223372036854775808}`,
		`{"downloadLimit": -9223372036854775808}`,
		`{"expirationDate": "2024-13-45T99:99:99Z"}`,
		`{"expirationDate": "1970-01-01T00:00:00Z"}`,
		`{"expirationDate": 12}`,
	} {
		if code, resp := e.req("POST", link, admin, body); code != 400 {
			t.Errorf("%s: got %d, want 400: %s", body, code, resp)
		}
	}
	// A huge but valid limit is just a limit.
	e.mustReq(201, "POST", link, admin, `{"downloadLimit": 9223372036854775807}`, nil)
	for _, q := range []string{"?page=0", "?page=-1", "?limit=201", "?limit=99999999999999999999", "?page=x"} {
		e.mustReq(400, "GET", projPath+"/build"+q, admin, "", nil)
	}
	// JSON bodies over max_request_body: 413, whatever the route.
	big := `{"name":"` + strings.Repeat("x", 2000) + `"}`
	code, resp := e.req("POST", "/api/v1/workspace", admin, big)
	if code != 413 {
		t.Fatalf("oversized JSON: got %d: %s", code, resp)
	}
	wantWorkspaceError(t, resp, "PAYLOAD_TOO_LARGE")
	if code, _ := e.req("POST", "/api/v1/auth/login", "", `{"username":"`+strings.Repeat("u", 5000)+`","password":"x"}`); code != 413 {
		t.Fatalf("oversized login: got %d, want 413", code)
	}
}

func TestSlowClients(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) {
		c.ReadHeaderTimeout = 200 * time.Millisecond
		c.BodyIdleTimeout = 300 * time.Millisecond
	})
	admin := e.adminToken()
	addr := serveReal(t, e)
	b := e.upload(admin, part{"version", "", "1"})

	// Headers that never finish: the connection is closed.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.ReadAll(conn) // returns when the server gives up
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("slow headers held the connection for %v", d)
	}

	rawUpload := func(announced int, send string, then func(net.Conn)) string {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s/build/%s/file?name=x.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s", projPath, b.BuildID, admin, announced, send)
		then(conn)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return "no response: " + err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", string(body))
	}
	// A body that stops arriving: given up after the idle timeout.
	start = time.Now()
	got := rawUpload(1_000_000, strings.Repeat("x", 1000), func(net.Conn) {})
	if d := time.Since(start); d > 3*time.Second || !strings.HasPrefix(got, "400") {
		t.Fatalf("stalled body: %q after %v, want a 400 after ~300ms", got, d)
	}
	// A body shorter than its Content-Length.
	got = rawUpload(1000, strings.Repeat("x", 500), func(c net.Conn) { c.(*net.TCPConn).CloseWrite() })
	if !strings.HasPrefix(got, "400") {
		t.Fatalf("short body: got %q, want 400", got)
	}
	// Neither left anything behind.
	files, _ := e.store.Files(b.BuildID)
	tmp, _ := os.ReadDir(filepath.Join(e.blobs.Dir(), "tmp"))
	if len(files) != 0 || len(tmp) != 0 || e.blobCount() != 0 {
		t.Fatalf("after interrupted uploads: %d files, %d temp files, %d blobs", len(files), len(tmp), e.blobCount())
	}
}

// Many uploads of one content, and deletes racing them, leave reference
// counts and storage totals exactly right, and no file without its blob.
func TestConcurrentSameContent(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"version", "", "1"})
	content := randomBytes(200_000)
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := e.send("POST", projPath+"/build/"+b.BuildID+"/file?name=same.bin", admin, "application/octet-stream", content)
			var files []struct{ FileID string }
			if code != 201 || json.Unmarshal(body, &files) != nil {
				t.Errorf("upload: %d %s", code, body)
				return
			}
			// Every other upload is deleted at once, racing the next uploads.
			if i%2 == 0 {
				if code, _ := e.req("DELETE", projPath+"/build/file/"+files[0].FileID, admin, ""); code != 204 {
					t.Errorf("delete: %d", code)
				}
				return
			}
			mu.Lock()
			ids = append(ids, files[0].FileID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r, err := fsck.Run(e.depot, fsck.Options{Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 0 {
		t.Fatalf("fsck after the race: %+v", r.Findings)
	}
	if n, _ := e.store.BlobRefCount(sha(content)); n != int64(len(ids)) || n != 12 {
		t.Fatalf("refs: got %d, want %d", n, len(ids))
	}
	if got := e.storageUsed(admin); got != int64(len(ids))*200_000 {
		t.Fatalf("storageUsed: got %d, want %d", got, len(ids)*200_000)
	}
}

// URLs Hangar hands out: public_url when set; otherwise the host the client
// reached, and a trusted proxy's X-Forwarded-Proto/Host.
func TestBaseURL(t *testing.T) {
	get := func(e *env, admin, fileID string, header ...string) string {
		r, _ := http.NewRequest("GET", e.ts.URL+projPath+"/build/file/"+fileID, nil)
		r.Header.Set("Authorization", "Bearer "+admin)
		for i := 0; i+1 < len(header); i += 2 {
			if header[i] == "Host" {
				r.Host = header[i+1]
				continue
			}
			r.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	prefix := func(u string) string { return u[:strings.Index(u, "/dl/")] }

	e := newEnvWith(t, func(c *config.Config) {
		c.TrustedProxies = nil
		c.TLSNames = []string{"192.168.1.5", "10.0.0.2", "hangar.lan"}
	})
	admin := e.adminToken()
	f := e.upload(admin, part{"file", "a.ipa", "a"}).Files[0].FileID
	host, _ := os.Hostname()
	tests := []struct {
		name   string
		header []string
		want   string
	}{
		{"the host the tester reached", []string{"Host", "192.168.1.5:8080"}, "http://192.168.1.5:8080"},
		{"a name of tls_names", []string{"Host", "Hangar.LAN:8080"}, "http://Hangar.LAN:8080"},
		{"the machine's name", []string{"Host", host + ":8080"}, "http://" + host + ":8080"},
		{"localhost", []string{"Host", "localhost:8080"}, "http://localhost:8080"},
		{"forwarded headers from an untrusted peer are ignored", []string{"Host", "10.0.0.2:8080", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"}, "http://10.0.0.2:8080"},
		{"a Host that is not a host falls back to the config", []string{"Host", "evil.example/x?"}, e.ts.URL},
		// Before, any name at all went into pages and manifests.
		{"a name this instance is not", []string{"Host", "evil.example"}, e.ts.URL},
		{"an address this machine does not have", []string{"Host", "203.0.113.7:8080"}, e.ts.URL},
	}
	if lan, err := certs.LANAddresses(); err == nil && len(lan.IPs) > 0 {
		a := lan.IPs[0].String()
		if strings.Contains(a, ":") {
			a = "[" + a + "]"
		}
		tests = append(tests, struct {
			name   string
			header []string
			want   string
		}{"one of the machine's addresses", []string{"Host", a + ":8080"}, "http://" + a + ":8080"})
	}
	for _, tt := range tests {
		if got := prefix(get(e, admin, f, tt.header...)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}

	proxied := newEnvWith(t, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	admin = proxied.adminToken()
	f = proxied.upload(admin, part{"file", "a.ipa", "a"}).Files[0].FileID
	if got := prefix(get(proxied, admin, f, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "builds.example.com")); got != "https://builds.example.com" {
		t.Errorf("behind a trusted proxy: got %q", got)
	}

	fixed := newEnvWith(t, func(c *config.Config) {
		c.PublicURL, c.PublicURLDerived = "https://hangar.example.com/base", false
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	admin = fixed.adminToken()
	f = fixed.upload(admin, part{"file", "a.ipa", "a"}).Files[0].FileID
	if got := prefix(get(fixed, admin, f, "Host", "other:1", "X-Forwarded-Host", "x.example")); got != "https://hangar.example.com/base" {
		t.Errorf("public_url set: got %q", got)
	}
}

// max_upload_size bounds each file, not the request: several files that
// together exceed it are fine. The number of parts and a JSON body are
// bounded.
func TestUploadBodyLimits(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.MaxUploadSize, c.MaxRequestBody = 100_000, 1000 })
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "a.ipa", string(randomBytes(90_000))}, part{"file", "a.dSYM.zip", string(randomBytes(90_000))})
	if len(b.Files) != 2 {
		t.Fatalf("two files under the limit, over it together: %+v", b)
	}
	var parts []part
	for i := 0; i < 65; i++ {
		parts = append(parts, part{"file", fmt.Sprint(i, ".txt"), "x"})
	}
	ctype, body := multipartBody(t, parts...)
	if code, out := e.send("POST", projPath+"/build", admin, ctype, body); code != 400 {
		t.Fatalf("65 parts: got %d %s, want 400", code, out)
	}
	if code, _ := e.send("POST", projPath+"/build", admin, "application/json", []byte(`{"notes":"`+strings.Repeat("n", 2000)+`"}`)); code != 413 {
		t.Fatalf("oversized JSON build: got %d, want 413", code)
	}
	var many []string
	for i := range 41 {
		many = append(many, fmt.Sprint("t", i))
	}
	ctype, body = multipartBody(t, part{"tags", "", strings.Join(many, ",")}, part{"build", "a.apk", "a"})
	if code, _ := e.send("POST", "/v1/organizations/acme/apps/app/builds", admin, ctype, body); code != 400 {
		t.Fatalf("41 tags: got %d, want 400", code)
	}
}

// A blob damaged on disk is not served as intact, and an identical upload
// repairs it instead of deduplicating onto it.
func TestDamagedBlob(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	content := string(randomBytes(64 << 10))
	b := e.upload(admin, part{"file", "app.zip", content})
	fileID := b.Files[0].FileID
	f, err := e.store.File(fileID)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := blob.ParseRef(f.Checksum)
	path := e.blobs.Path(ref)
	fetch := func() (*http.Response, []byte) {
		code, u := e.send("GET", projPath+"/build/file/"+fileID, admin, "", nil)
		if code != 200 {
			t.Fatalf("signed URL: %d %s", code, u)
		}
		return do(t, "GET", string(u), nil)
	}
	intact := func() bool {
		data, _ := os.ReadFile(path)
		return string(data) == content
	}
	reupload := func() {
		t.Helper()
		if nb := e.upload(admin, part{"file", "again.zip", content}); nb.Status == "" {
			t.Fatal("re-upload failed")
		}
	}

	// Cut short: the download is refused, not served short.
	os.WriteFile(path, []byte(content[:1000]), 0o600)
	resp, body := fetch()
	if resp.StatusCode != 500 || !strings.Contains(string(body), "FILE_DAMAGED") {
		t.Fatalf("download of a truncated blob: %d %s", resp.StatusCode, body)
	}
	reupload()
	if !intact() {
		t.Fatal("an identical upload did not repair the truncated blob")
	}
	resp, body = fetch()
	wantCode(t, resp, body, 200)
	if string(body) != content {
		t.Fatal("served bytes differ after the repair")
	}

	// A flipped byte (same size): an identical upload replaces it too.
	damaged := []byte(content)
	damaged[100] ^= 0xff
	os.WriteFile(path, damaged, 0o600)
	reupload()
	if !intact() {
		t.Fatal("an identical upload deduplicated onto a blob with a flipped byte")
	}
	m := scrape(t, e, admin)
	if v := value(m, "hangar_damaged_blobs_total", map[string]string{"action": "refused"}); v != 1 {
		t.Errorf("refused: %v, want 1", v)
	}
	if v := value(m, "hangar_damaged_blobs_total", map[string]string{"action": "replaced"}); v != 2 {
		t.Errorf("replaced: %v, want 2", v)
	}
}
