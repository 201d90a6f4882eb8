package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hangar/config"
	"hangar/hangartest"
)

// A raw upload may declare its SHA-256 (RFC 9530 Content-Digest): a
// duplicate is then recorded on the stored blob, and a body that is not
// what it declared is a 400 that stores nothing.
func TestUploadContentDigest(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "a.zip", "a"})
	body := []byte(strings.Repeat("attachment ", 1000))
	sum := sha256.Sum256(body)
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	send := func(header string, data []byte) (int, []byte) {
		t.Helper()
		resp, out := hangartest.Do(t, "POST", e.ts.URL+projPath+"/build/"+b.BuildID+"/file?name=notes.txt", admin,
			"application/octet-stream", bytes.NewReader(data), "Content-Digest", header)
		return resp.StatusCode, out
	}
	for i, h := range []string{"", digest, "md5=:AAAA:, " + digest} { // stored, then duplicates
		code, out := send(h, body)
		if code != 201 || !strings.Contains(string(out), hex.EncodeToString(sum[:])) {
			t.Fatalf("upload %d: %d %s", i, code, out)
		}
	}
	before := e.storageUsed(admin)
	for name, tc := range map[string]struct {
		header string
		data   []byte
		want   string
	}{
		"other bytes":  {digest, append(bytes.Clone(body[:len(body)-1]), 'X'), "Content-Digest declared"},
		"longer":       {digest, append(bytes.Clone(body), 'X'), "Content-Digest declared"},
		"new, wrong":   {"sha-256=:" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + ":", []byte("new content"), "Content-Digest declared"},
		"not base64":   {"sha-256=:!!!:", body, "RFC 9530"},
		"no colons":    {"sha-256=" + base64.StdEncoding.EncodeToString(sum[:]), body, "RFC 9530"},
		"short digest": {"sha-256=:AAAA:", body, "RFC 9530"},
	} {
		code, out := send(tc.header, tc.data)
		if code != 400 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: %d %s", name, code, out)
		}
	}
	if after := e.storageUsed(admin); after != before {
		t.Fatalf("refused uploads changed storageUsed: %d → %d", before, after)
	}
}

// postWaiting posts body raw, as a client that waits for 100 Continue
// before sending it (if expect), and says how many of its bytes were sent.
func postWaiting(t *testing.T, url, token string, expect bool, body []byte, header ...string) (int, string, int64) {
	t.Helper()
	// A server that reads the body after answering gets it once this
	// wait is over: the count then shows it.
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	code, out, read, _ := postWaitingWith(t, client, url, token, expect, body, header...)
	return code, out, read
}

// postWaitingWith is postWaiting through client; it also says which
// protocol answered.
func postWaitingWith(t *testing.T, client *http.Client, url, token string, expect bool, body []byte, header ...string) (int, string, int64, string) {
	t.Helper()
	cr := &countingReader{r: bytes.NewReader(body)}
	req, err := http.NewRequest("POST", url, cr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if expect {
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), cr.n.Load(), resp.Proto
}

// Refusals answer a client waiting for 100 Continue at once: it never
// sends the body.
func TestEarlyAnswerSparesTheBody(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.MaxUploadSize = 10_000 })
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "a.zip", "a"})
	path := e.ts.URL + projPath + "/build/" + b.BuildID + "/file?name=big.bin"
	data := bytes.Repeat([]byte("z"), 20_000)
	if code, out, read := postWaiting(t, path, admin, true, data); code != 413 || read != 0 {
		t.Fatalf("over max_upload_size: %d %s, %d bytes sent", code, out, read)
	}
	if code, out, read := postWaiting(t, path, "hgr_not_a_token", true, data); code != 401 || read != 0 {
		t.Fatalf("bad token: %d %s, %d bytes sent", code, out, read)
	}
	// One that is accepted is sent and stored.
	if code, out, read := postWaiting(t, path, admin, true, data[:5_000]); code != 201 || read != 5_000 {
		t.Fatalf("an upload within the limit: %d %s, %d bytes sent", code, out, read)
	}
}

// countingReader counts the bytes read from it, from any goroutine: the
// client may still be sending, or giving up, when the answer is in.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// A client that waits for 100 Continue and declares content its project
// holds already gets its file without sending the body. Anywhere else the
// body is read, hashed and must match: a digest alone gives no one
// another project's bytes.
func TestUploadTakesHeldContentWithoutTheBody(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	data := []byte(strings.Repeat("ipa bytes ", 5000))
	sum := sha256.Sum256(data)
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	b := e.upload(admin, part{"file", "a.zip", "a"})
	if code, out := e.send("POST", projPath+"/build/"+b.BuildID+"/file?name=app.ipa", admin, "application/octet-stream", data); code != 201 {
		t.Fatalf("first upload: %d %s", code, out)
	}
	e.mustReq(201, "POST", "/api/v1/workspace/acme/project", admin, `{"slug":"other"}`, nil)
	ctype, form := multipartBody(t, part{"file", "b.zip", "b"})
	code, out := e.send("POST", "/api/v1/workspace/acme/project/other/build", admin, ctype, form)
	var other buildResp
	if code != 201 || json.Unmarshal(out, &other) != nil {
		t.Fatalf("other project's build: %d %s", code, out)
	}

	send := func(path string, expect bool, body []byte) (int, string, int64) {
		t.Helper()
		return postWaiting(t, e.ts.URL+path, admin, expect, body, "Content-Digest", digest)
	}
	same := projPath + "/build/" + b.BuildID + "/file?name=again.ipa"
	elsewhere := "/api/v1/workspace/acme/project/other/build/" + other.BuildID + "/file?name=app.ipa"
	hexSum := hex.EncodeToString(sum[:])
	before := e.storageUsed(admin)

	code, taken, read := send(same, true, data)
	if code != 201 || read != 0 || !strings.Contains(taken, hexSum) {
		t.Fatalf("held content, client waiting: %d %s, %d bytes sent", code, taken, read)
	}
	if code, out, read := send(same, false, data); code != 201 || read != int64(len(data)) {
		t.Fatalf("held content, client not waiting: %d %s, %d bytes sent", code, out, read)
	}
	liar := bytes.Repeat([]byte("x"), len(data))
	if code, out, read := send(elsewhere, true, liar); code != 400 || read == 0 || !strings.Contains(out, "Content-Digest declared") {
		t.Fatalf("another project's digest over other bytes: %d %s, %d bytes sent", code, out, read)
	}
	if code, out, read := send(elsewhere, true, data); code != 201 || read != int64(len(data)) {
		t.Fatalf("another project's content, sent whole: %d %s, %d bytes sent", code, out, read)
	}
	if after := e.storageUsed(admin); after != before+3*int64(len(data)) {
		t.Fatalf("storageUsed %d → %d after three files of %d bytes", before, after, len(data))
	}
	// The file taken without its body downloads as the first one does.
	var files []struct{ FileID string }
	var link struct{ PublicLinkID string }
	if err := json.Unmarshal([]byte(taken), &files); err != nil || len(files) != 1 {
		t.Fatalf("%v: %s", err, taken)
	}
	e.mustReq(201, "POST", projPath+"/build/files/"+files[0].FileID+"/public-link", admin, `{}`, &link)
	resp, got := hangartest.Do(t, "GET", e.ts.URL+"/api/v1/public/file/"+link.PublicLinkID+"/again.ipa", "", "", nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("download of the file taken without its body: %d, %d bytes", resp.StatusCode, len(got))
	}
	e.checkConsistent()
}

// Over HTTP/2 the held content is taken without reading the body, the
// client waiting for 100 Continue or not (the stream is ended), and the
// connection stays open for the next request.
func TestUploadTakesHeldContentOverHTTP2(t *testing.T) {
	e, addr, _, _ := tlsEnv(t)
	admin := e.adminToken()
	data := []byte(strings.Repeat("apk bytes ", 50000))
	sum := sha256.Sum256(data)
	b := e.upload(admin, part{"file", "a.zip", "a"})
	path := projPath + "/build/" + b.BuildID + "/file?name="
	if code, out := e.send("POST", path+"app.apk", admin, "application/octet-stream", data); code != 201 {
		t.Fatalf("first upload: %d %s", code, out)
	}
	conns := 0
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, // self-signed
		ForceAttemptHTTP2:     true,
		ExpectContinueTimeout: 5 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conns++
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	hexSum := hex.EncodeToString(sum[:])
	code, out, read, proto := postWaitingWith(t, client, "https://"+addr+path+"again.apk", admin, true, data, "Content-Digest", digest)
	if code != 201 || read != 0 || proto != "HTTP/2.0" || !strings.Contains(out, hexSum) {
		t.Fatalf("client waiting, over %s: %d %s, %d bytes sent", proto, code, out, read)
	}
	code, out, read, _ = postWaitingWith(t, client, "https://"+addr+path+"again.apk", admin, false, data, "Content-Digest", digest)
	if code != 201 || !strings.Contains(out, hexSum) {
		t.Fatalf("client not waiting: %d %s, %d bytes sent", code, out, read)
	}
	liar := bytes.Repeat([]byte("x"), len(data)) // the digest alone, as ever, stores nothing in the project
	if code, out, _, _ := postWaitingWith(t, client, "https://"+addr+path+"other.apk", admin, false, liar); code != 201 || strings.Contains(out, hexSum) {
		t.Fatalf("other bytes without a digest: %d %s", code, out)
	}
	if conns != 1 {
		t.Fatalf("%d connections for three uploads over HTTP/2", conns)
	}
	client.CloseIdleConnections()
	e.checkConsistent()
}

// A build's package may come as a raw body (?name=, the fields in the
// query string): with its digest, a package the project holds already is
// taken without being sent, and the build is processed as any other.
func TestRawPackageBuild(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	ipa := []byte(demoIPA())
	sum := sha256.Sum256(ipa)
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	create := projPath + "/build?name=Demo.ipa&version=1.4.0&buildNumber=812&notes=Fixes+login&tags=beta,rc&tags=ios"
	var builds []buildResp
	for i, expect := range []bool{false, true} {
		code, out, read := postWaiting(t, e.ts.URL+create, admin, expect, ipa, "Content-Digest", digest)
		var b buildResp
		if code != 201 || json.Unmarshal([]byte(out), &b) != nil || len(b.Files) != 1 || b.Files[0].Type != "package" {
			t.Fatalf("upload %d: %d %s", i, code, out)
		}
		if want := []int64{int64(len(ipa)), 0}[i]; read != want {
			t.Fatalf("upload %d sent %d bytes of the package, want %d", i, read, want)
		}
		builds = append(builds, b)
	}
	for _, b := range builds {
		got := e.waitProcessed(b.BuildID)
		if got.Status != "processed" || got.VersionName != "1.4.0" || got.VersionCode != "812" || got.Notes != "Fixes login" ||
			strings.Join(got.Tags, ",") != "beta,ios,rc" && strings.Join(got.Tags, ",") != "beta,rc,ios" || got.PackageVersion == "" {
			t.Fatalf("build from a raw package: %+v", got)
		}
	}
	before := e.storageUsed(admin)
	for name, path := range map[string]string{
		"unknown field": projPath + "/build?name=Demo.ipa&colour=red",
		"no name":       projPath + "/build?name=",
		"bad notify":    projPath + "/build?name=Demo.ipa&notify=perhaps",
	} {
		if code, out, _ := postWaiting(t, e.ts.URL+path, admin, false, ipa, "Content-Digest", digest); code != 400 {
			t.Errorf("%s: %d %s", name, code, out)
		}
	}
	if code, out, _ := postWaiting(t, e.ts.URL+create, admin, false, append(bytes.Clone(ipa), 'x'), "Content-Digest", digest); code != 400 {
		t.Errorf("a package that is not what it declared: %d %s", code, out)
	}
	if after := e.storageUsed(admin); after != before {
		t.Fatalf("refused uploads changed storageUsed: %d → %d", before, after)
	}
	e.checkConsistent()
}
