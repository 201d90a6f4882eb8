package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	qrcode "github.com/yeqown/go-qrcode/v2"

	"hangar/config"
	"hangar/store"
)

// The reference's "Example: Creating and Sharing a Link", with only the host and
// ids changed, then the tester's `curl -L` of the publicUrl.
func TestReferenceExampleCreateAndShareLink(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	content := randomBytes(1 << 20)
	b := e.upload(admin, part{"version", "", "1.2.0"}, part{"file", "app.ipa", string(content)})

	expiration := e.clock().AddDate(0, 0, 7).UTC().Format("2006-01-02T00:00:00Z")
	var link struct {
		PublicLinkID, FileID, PublicURL string
		ExpirationDate                  string
		DownloadLimit, AccessCount      int64
		IsActive, IsPermanent           bool
	}
	e.mustReq(http.StatusCreated, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin,
		fmt.Sprintf(`{"downloadLimit": 100, "expirationDate": %q, "isPermanent": false}`, expiration), &link)
	if link.DownloadLimit != 100 || link.ExpirationDate != expiration || !link.IsActive || link.IsPermanent || link.AccessCount != 0 {
		t.Fatalf("link: got %+v", link)
	}
	if want := e.ts.URL + "/api/v1/public/file/" + link.PublicLinkID + "/app.ipa"; link.PublicURL != want {
		t.Fatalf("publicUrl: got %s, want %s", link.PublicURL, want)
	}

	// curl -L: no token, follow the 302 to the signed URL.
	resp, err := http.Get(link.PublicURL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || sha(got) != sha(content) || sha(got) != b.Files[0].Checksum {
		t.Fatalf("download: status %d, sha256 %s, want %s", resp.StatusCode, sha(got), sha(content))
	}
	var links []struct{ AccessCount int64 }
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID+"/public-links", admin, "", &links)
	if len(links) != 1 || links[0].AccessCount != 1 {
		t.Fatalf("links after one download: %+v", links)
	}
}

func TestUploadAndFiles(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	ipa, dsym := randomBytes(300_000), randomBytes(100_000)
	b := e.upload(admin,
		part{"version", "", "2.0"}, part{"buildNumber", "", "42"}, part{"notes", "", "fixes"},
		part{"file", "App.ipa", string(ipa)}, part{"file", "../../App.dSYM.zip", string(dsym)})
	// An .ipa is read in the background: in_progress at first.
	if b.Status != "in_progress" || b.Version != "2.0" || b.BuildNumber != "42" || b.Notes != "fixes" || len(b.Files) != 2 {
		t.Fatalf("build: got %+v", b)
	}
	f0, f1 := b.Files[0], b.Files[1]
	if f0.Name != "App.ipa" || f0.Type != "package" || f0.FileExtension != "ipa" || f0.Size != 300_000 || f0.Checksum != sha(ipa) {
		t.Fatalf("package: got %+v", f0)
	}
	if f1.Name != "App.dSYM.zip" || f1.Path != "App.dSYM.zip" || f1.Type != "attachment" || f1.FileExtension != "zip" {
		t.Fatalf("attachment (directory parts must be dropped): got %+v", f1)
	}
	if got := e.storageUsed(admin); got != 400_000 {
		t.Fatalf("storageUsed: got %d, want 400000", got)
	}
	// Random bytes are no IPA: the build ends in error, saying why, with
	// its files intact.
	e.waitProcessed(b.BuildID)
	var failed struct{ Status, ProcessingError string }
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID, admin, "", &failed)
	if failed.Status != "error" || failed.ProcessingError != "App.ipa: not a readable zip archive (zip: not a valid zip file)" {
		t.Fatalf("processed random bytes: %+v", failed)
	}

	// The reference's "List Build Files" and the alternative.
	var list []map[string]any
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID+"/file", admin, "", &list)
	if len(list) != 2 || list[0]["fileId"] != f0.FileID || list[0]["path"] != "App.ipa" || list[0]["fileExtension"] != "ipa" ||
		list[0]["size"] != float64(300_000) {
		t.Fatalf("/file: got %v", list)
	}
	if _, err := time.Parse(time.RFC3339, list[0]["createdAt"].(string)); err != nil || strings.Contains(list[0]["createdAt"].(string), ".") {
		t.Fatalf("createdAt %v: want RFC 3339 in whole seconds", list[0]["createdAt"])
	}
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID+"/files", admin, "", &list)
	if len(list) != 2 || list[1]["extension"] != "zip" || list[1]["mimetype"] != "application/zip" {
		t.Fatalf("/files: got %v", list)
	}

	// Raw streaming upload of an attachment.
	notes := []byte("release notes")
	code, body := e.send("POST", projPath+"/build/"+b.BuildID+"/file?name=notes.txt", admin, "application/octet-stream", notes)
	var added []struct{ FileID, Name, Type string }
	if code != 201 || json.Unmarshal(body, &added) != nil || len(added) != 1 || added[0].Name != "notes.txt" || added[0].Type != "attachment" {
		t.Fatalf("raw upload: %d %s", code, body)
	}

	// Get File Download URL: a plain-text signed URL that downloads the file.
	r, _ := http.NewRequest("GET", e.ts.URL+projPath+"/build/file/"+f0.FileID, nil)
	r.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.HasPrefix(string(u), e.ts.URL+"/dl/") {
		t.Fatalf("download URL: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), u)
	}
	resp, body2 := do(t, "GET", string(u), nil)
	wantCode(t, resp, body2, 200)
	if sha(body2) != sha(ipa) {
		t.Fatal("signed URL served other bytes")
	}

	// Builds: newest first, one by one.
	second := e.upload(admin, part{"file", "b.apk", "apk"})
	var builds []struct{ BuildID string }
	e.mustReq(200, "GET", projPath+"/build?limit=1", admin, "", &builds)
	if len(builds) != 1 || builds[0].BuildID != second.BuildID {
		t.Fatalf("page 1: %+v", builds)
	}
	e.mustReq(200, "GET", projPath+"/build?limit=1&page=2", admin, "", &builds)
	if len(builds) != 1 || builds[0].BuildID != b.BuildID {
		t.Fatalf("page 2: %+v", builds)
	}
	e.mustReq(400, "GET", projPath+"/build?limit=0", admin, "", nil)
	e.mustReq(400, "GET", projPath+"/build?page=99999999999999", admin, "", nil)
	e.mustReq(400, "GET", projPath+"/build?page=1&cursor=AAAA", admin, "", nil)
	e.mustReq(400, "GET", projPath+"/build?cursor=!!", admin, "", nil)
	// By cursor: page 1 names page 2 in a Link header; page 2, the last,
	// names none.
	next := func(path string) (string, []struct{ BuildID string }) {
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var page []struct{ BuildID string }
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		link := resp.Header.Get("Link")
		if link == "" {
			return "", page
		}
		target, ok := strings.CutSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		if !ok || !strings.HasPrefix(target, projPath+"/build?") || !strings.Contains(target, "cursor=") || strings.Contains(target, "page=") {
			t.Fatalf("Link: %q", link)
		}
		return target, page
	}
	var all, walked []struct{ BuildID string }
	e.mustReq(200, "GET", projPath+"/build?limit=200", admin, "", &all)
	for link := projPath + "/build?limit=1&page=1"; link != ""; {
		var page []struct{ BuildID string }
		link, page = next(link)
		walked = append(walked, page...)
		if len(walked) > len(all) {
			t.Fatalf("cursor walk does not end: %+v", walked)
		}
	}
	if len(all) < 2 || !slices.Equal(walked, all) {
		t.Fatalf("cursor walk %+v, the whole list %+v", walked, all)
	}
	var one buildResp
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID, admin, "", &one)
	if len(one.Files) != 3 {
		t.Fatalf("build has %d files, want 3", len(one.Files))
	}
	// An empty JSON build, then files streamed into it.
	var empty buildResp
	e.mustReq(201, "POST", projPath+"/build", admin, `{"version":"3.0"}`, &empty)
	if empty.Version != "3.0" || len(empty.Files) != 0 {
		t.Fatalf("JSON build: %+v", empty)
	}
}

func TestStorageUsageAndDelete(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	content := randomBytes(50_000)
	a := e.upload(admin, part{"file", "a.zip", string(content)})
	b := e.upload(admin, part{"file", "b.zip", string(content)}) // duplicate content
	if got := e.storageUsed(admin); got != 100_000 {
		t.Fatalf("storageUsed after duplicate upload: got %d, want 100000 (each file counts)", got)
	}
	if n := e.blobCount(); n != 1 {
		t.Fatalf("blobs on disk: got %d, want 1 (stored once)", n)
	}

	var link struct{ PublicURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+a.Files[0].FileID+"/public-link", admin, `{}`, &link)
	e.mustReq(204, "DELETE", projPath+"/build/file/"+a.Files[0].FileID, admin, "", nil)
	if got := e.storageUsed(admin); got != 50_000 {
		t.Fatalf("storageUsed after delete: got %d, want 50000", got)
	}
	if n := e.blobCount(); n != 1 {
		t.Fatal("a blob still used by another file was removed")
	}
	resp, body := do(t, "GET", link.PublicURL, nil)
	wantCode(t, resp, body, 404)
	wantWorkspaceError(t, body, "LINK_NOT_FOUND")
	e.mustReq(404, "DELETE", projPath+"/build/file/"+a.Files[0].FileID, admin, "", nil)

	e.mustReq(204, "DELETE", projPath+"/build/file/"+b.Files[0].FileID, admin, "", nil)
	if got, n := e.storageUsed(admin), e.blobCount(); got != 0 || n != 0 {
		t.Fatalf("after deleting both: storageUsed %d, blobs %d; want 0, 0", got, n)
	}
}

func TestUploadLimits(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.MaxUploadSize = 100_000 })
	admin := e.adminToken()
	e.upload(admin, part{"file", "fits.ipa", string(randomBytes(100_000))})
	e.noTrace(admin, 2, 1, 100_000) // the fixture's build and this one

	// Over max_upload_size: 413, in a form (after a first file that fit) and raw.
	ctype, body := multipartBody(t, part{"file", "ok.zip", "small"}, part{"file", "big.ipa", string(randomBytes(100_001))})
	code, b := e.send("POST", projPath+"/build", admin, ctype, body)
	if code != 413 {
		t.Fatalf("oversized form: got %d: %s", code, b)
	}
	wantWorkspaceError(t, b, "PAYLOAD_TOO_LARGE")
	e.noTrace(admin, 2, 1, 100_000)
	code, _ = e.send("POST", projPath+"/build/"+e.build.ID+"/file?name=big.ipa", admin, "application/octet-stream", randomBytes(200_000))
	if code != 413 {
		t.Fatalf("oversized raw upload: got %d", code)
	}
	e.noTrace(admin, 2, 1, 100_000)

	// Over the workspace quota: 507 QUOTA_EXCEEDED.
	e.mustReq(200, "PATCH", "/api/v1/workspace/acme", admin, `{"storageQuota": 150000}`, nil)
	ctype, body = multipartBody(t, part{"file", "q.ipa", string(randomBytes(60_000))})
	code, b = e.send("POST", projPath+"/build", admin, ctype, body)
	if code != 507 {
		t.Fatalf("over quota: got %d: %s", code, b)
	}
	wantWorkspaceError(t, b, "QUOTA_EXCEEDED")
	e.noTrace(admin, 2, 1, 100_000)
	code, _ = e.send("POST", projPath+"/build/"+e.build.ID+"/file?name=q.ipa", admin, "application/octet-stream", randomBytes(60_000))
	if code != 507 {
		t.Fatalf("raw upload over quota: got %d", code)
	}
	e.noTrace(admin, 2, 1, 100_000)

	// Malformed uploads.
	for _, tc := range []struct {
		ctype string
		body  []byte
		path  string
	}{
		{"multipart/form-data; boundary=x", []byte("garbage"), "/build"},
		{"application/octet-stream", []byte("x"), "/build/" + e.build.ID + "/file"},         // no ?name=
		{"application/octet-stream", []byte("x"), "/build/" + e.build.ID + "/file?name=.."}, // no real name
		{"text/plain", []byte("x"), "/build"},                                               // not JSON
	} {
		if code, b := e.send("POST", projPath+tc.path, admin, tc.ctype, tc.body); code != 400 {
			t.Errorf("%s %s: got %d, want 400: %s", tc.ctype, tc.path, code, b)
		}
	}
	ctype, body = multipartBody(t, part{"color", "", "blue"})
	if code, _ := e.send("POST", projPath+"/build", admin, ctype, body); code != 400 {
		t.Errorf("unknown form field: got %d, want 400", code)
	}
	e.noTrace(admin, 2, 1, 100_000)
}

func TestPublicLinkRules(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.apk", "android"})
	fid := b.Files[0].FileID
	linkPath := projPath + "/build/files/" + fid + "/public-link"
	past := e.clock().Add(-time.Hour).UTC().Format(time.RFC3339)

	for _, body := range []string{
		`{"downloadLimit": -1}`,
		`{"expirationDate": "` + past + `"}`,
		`{"expirationDate": "next tuesday"}`,
		`{"downloadLimit": 1.5}`,
		`{"downloadLimit": "10"}`,
		`{"downloadLimit": 10`,
		`{"unknown": true}`,
	} {
		code, resp := e.req("POST", linkPath, admin, body)
		if code != 400 {
			t.Errorf("%s: got %d, want 400: %s", body, code, resp)
		}
		var er struct{ Error, Message string }
		json.Unmarshal(resp, &er)
		if er.Error != "BAD_REQUEST" || er.Message == "" {
			t.Errorf("%s: error body %s", body, resp)
		}
	}
	e.mustReq(404, "POST", projPath+"/build/files/nope/public-link", admin, `{}`, nil)

	type link struct {
		PublicLinkID, PublicURL string
		ExpirationDate          *string
		AccessCount             int64
		IsActive                bool
	}
	var permanent, unlimited, expiring link
	e.mustReq(201, "POST", linkPath, admin, `{"isPermanent": true, "expirationDate": "`+past+`"}`, &permanent)
	e.mustReq(201, "POST", linkPath, admin, ``, &unlimited)
	e.mustReq(201, "POST", linkPath, admin, `{"expirationDate": "`+e.clock().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`, &expiring)
	if unlimited.ExpirationDate != nil {
		t.Fatalf("a link without expiry: expirationDate %v, want null", *unlimited.ExpirationDate)
	}

	get := func(method, u string) (int, string) {
		r, _ := http.NewRequest(method, u, nil)
		resp, b := sendNoRedirect(t, r)
		var er struct{ Error string }
		json.Unmarshal(b, &er)
		if resp.StatusCode == 302 && !strings.HasPrefix(resp.Header.Get("Location"), e.ts.URL+"/dl/") {
			t.Fatalf("302 to %q", resp.Header.Get("Location"))
		}
		return resp.StatusCode, er.Error
	}

	if code, _ := get("GET", permanent.PublicURL); code != 302 {
		t.Fatalf("permanent link with a past date: got %d, want 302", code)
	}
	for i := 0; i < 3; i++ {
		if code, _ := get("HEAD", unlimited.PublicURL); code != 200 {
			t.Fatalf("HEAD: got %d, want 200", code)
		}
	}
	var links []link
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID+"/public-links", admin, "", &links)
	for _, l := range links {
		if l.PublicLinkID == unlimited.PublicLinkID && l.AccessCount != 0 {
			t.Fatalf("HEAD counted: accessCount %d", l.AccessCount)
		}
	}

	base := e.ts.URL + "/api/v1/public/file/"
	for name, u := range map[string]string{
		"unknown link":    base + "nope/app.apk",
		"other file name": base + unlimited.PublicLinkID + "/other.apk",
	} {
		if code, er := get("GET", u); code != 404 || er != "LINK_NOT_FOUND" {
			t.Errorf("%s: got %d %s, want 404 LINK_NOT_FOUND", name, code, er)
		}
	}
	e.advance(2 * time.Hour)
	if code, er := get("GET", expiring.PublicURL); code != 404 || er != "LINK_NOT_FOUND" {
		t.Errorf("expired: got %d %s", code, er)
	}
	e.advance(-2 * time.Hour)
	e.mustReq(204, "DELETE", projPath+"/build/files/"+fid+"/public-links/"+unlimited.PublicLinkID, admin, "", nil)
	if code, er := get("GET", unlimited.PublicURL); code != 404 || er != "LINK_NOT_FOUND" {
		t.Errorf("deactivated: got %d %s", code, er)
	}
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID+"/public-links", admin, "", &links)
	for _, l := range links {
		if l.PublicLinkID == unlimited.PublicLinkID && l.IsActive {
			t.Fatal("deactivated link still active")
		}
	}
	e.mustReq(404, "DELETE", projPath+"/build/files/"+fid+"/public-links/nope", admin, "", nil)
}

// 64 testers click a link limited to 10 downloads at the same moment.
func TestDownloadLimitUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.ipa", "payload"})
	var link struct{ PublicLinkID, PublicURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{"downloadLimit": 10}`, &link)

	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(link.PublicURL)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 403 && !bytes.Contains(b, []byte(`"DOWNLOAD_LIMIT_REACHED"`)) {
				t.Errorf("403 body: %s", b)
			}
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[302] != 10 || codes[403] != 54 {
		t.Fatalf("got %v, want 10 × 302 and 54 × 403", codes)
	}
	var links []struct{ AccessCount int64 }
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID+"/public-links", admin, "", &links)
	if links[0].AccessCount != 10 {
		t.Fatalf("accessCount: got %d, want 10", links[0].AccessCount)
	}
	var log []struct{ Timestamp, ClientIP string }
	e.mustReq(200, "GET", projPath+"/build/files/"+b.Files[0].FileID+"/public-links/"+link.PublicLinkID+"/access-log?limit=200", admin, "", &log)
	if len(log) != 10 {
		t.Fatalf("access log: got %d entries, want 10", len(log))
	}
}

func TestAccessLog(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.ipa", "payload"})
	fid := b.Files[0].FileID
	var link struct{ PublicLinkID, PublicURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+fid+"/public-link", admin, `{}`, &link)

	for i, xff := range []string{"203.0.113.7", "198.51.100.1, 203.0.113.9"} {
		r, _ := http.NewRequest("GET", link.PublicURL, nil)
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("User-Agent", fmt.Sprint("tester-", i))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var log []struct {
		Timestamp           time.Time
		ClientIP, UserAgent string
	}
	path := projPath + "/build/files/" + fid + "/public-links/" + link.PublicLinkID + "/access-log"
	e.mustReq(200, "GET", path, admin, "", &log)
	// Newest first; the client is the right-most untrusted address.
	if len(log) != 2 || log[0].ClientIP != "203.0.113.9" || log[0].UserAgent != "tester-1" || log[1].ClientIP != "203.0.113.7" {
		t.Fatalf("access log: %+v", log)
	}
	e.mustReq(200, "GET", path+"?page=2&limit=1", admin, "", &log)
	if len(log) != 1 || log[0].UserAgent != "tester-0" {
		t.Fatalf("page 2: %+v", log)
	}
	e.mustReq(404, "GET", projPath+"/build/files/"+fid+"/public-links/nope/access-log", admin, "", nil)
}

func TestClientIPIgnoresUntrustedForwardedFor(t *testing.T) {
	e := newEnv(t) // no trusted proxies
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.ipa", "payload"})
	var link struct{ PublicLinkID, PublicURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &link)
	r, _ := http.NewRequest("GET", link.PublicURL, nil)
	r.Header.Set("X-Forwarded-For", "6.6.6.6")
	resp, _ := http.DefaultClient.Do(r)
	resp.Body.Close()
	var log []struct{ ClientIP string }
	e.mustReq(200, "GET", projPath+"/build/files/"+b.Files[0].FileID+"/public-links/"+link.PublicLinkID+"/access-log", admin, "", &log)
	if len(log) != 1 || log[0].ClientIP != "127.0.0.1" {
		t.Fatalf("got %+v, want the socket address", log)
	}
}

func TestQRCode(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "My App.ipa", "payload"})
	var link struct{ PublicLinkID, PublicURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &link)

	resp, body := do(t, "GET", e.ts.URL+"/api/v1/public/file/"+link.PublicLinkID+"/qr", nil)
	wantCode(t, resp, body, 200)
	if resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("Content-Type: %s", resp.Header.Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bnd := img.Bounds(); bnd.Dx() != 200 || bnd.Dy() != 200 {
		t.Fatalf("size: got %dx%d, want 200x200", bnd.Dx(), bnd.Dy())
	}

	// The image carries the QR code of the publicUrl: decoded, it reads
	// that URL. (Comparing modules with go-qrcode's own matrix for the text
	// failed once in CI: go-qrcode picks among equally good masks
	// nondeterministically for some texts, about 1 in 100 here, so two
	// encodings of one URL may differ while both are right.)
	if got := decodeQR(t, body); got != link.PublicURL {
		t.Fatalf("the QR code reads %q, want the publicUrl %q", got, link.PublicURL)
	}
	dim := len(qrMatrix(t, link.PublicURL)) // the version, whatever the mask
	block := 200 / (dim + 8)
	off := (200 - dim*block) / 2
	if off < 4*block {
		t.Fatalf("quiet zone %d px is under 4 modules of %d px", off, block)
	}
	// The quiet zone is white.
	if r, _, _, _ := img.At(1, 1).RGBA(); r < 0x8000 {
		t.Fatal("corner is not white")
	}

	resp, body = do(t, "GET", e.ts.URL+"/api/v1/public/file/nope/qr", nil)
	wantCode(t, resp, body, 404)
	wantWorkspaceError(t, body, "LINK_NOT_FOUND")
}

type matrixOf struct{ dark [][]bool }

func (m *matrixOf) Write(mat qrcode.Matrix) error {
	m.dark = make([][]bool, mat.Height())
	for y := range m.dark {
		m.dark[y] = make([]bool, mat.Width())
	}
	mat.Iterate(qrcode.IterDirection_ROW, func(x, y int, v qrcode.QRValue) { m.dark[y][x] = v.IsSet() })
	return nil
}
func (m *matrixOf) Close() error { return nil }

func qrMatrix(t *testing.T, text string) [][]bool {
	qr, err := qrcode.New(text)
	if err != nil {
		t.Fatal(err)
	}
	var m matrixOf
	qr.Save(&m)
	return m.dark
}

// Every path in Totis' Files & Public Links API (docs/apis.md) reaches its handler (none is swallowed by the
// router's own 404), and ids of another project are not found.
func TestReferencePathsRoute(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.ipa", "payload"})
	fid := b.Files[0].FileID
	var link struct{ PublicLinkID string }
	e.mustReq(201, "POST", projPath+"/build/files/"+fid+"/public-link", admin, `{}`, &link)
	lid := link.PublicLinkID
	paths := []struct {
		method, path string
		want         int
	}{
		{"GET", projPath + "/build/" + b.BuildID + "/file", 200},
		{"GET", projPath + "/build/" + b.BuildID + "/files", 200},
		{"GET", projPath + "/build/file/" + fid, 200},
		{"GET", projPath + "/build/" + b.BuildID + "/public-links", 200},
		{"GET", projPath + "/build/files/" + fid + "/public-links/" + lid + "/access-log", 200},
		{"GET", "/api/v1/public/file/" + lid + "/qr", 200},
		{"GET", "/api/v1/public/file/" + lid + "/app.ipa", 200}, // followed to the file
		{"POST", projPath + "/build/files/" + fid + "/public-link", 201},
		{"DELETE", projPath + "/build/files/" + fid + "/public-links/" + lid, 204},
		{"DELETE", projPath + "/build/file/" + fid, 204},
		// Near misses answer 404, not another route.
		{"GET", projPath + "/build/" + b.BuildID + "/nonsense", 404},
		{"GET", projPath + "/build/files/" + fid + "/public-links/" + lid + "/other", 404},
	}
	for _, s := range paths {
		if code, body := e.req(s.method, s.path, admin, ""); code != s.want {
			t.Errorf("%s %s: got %d, want %d: %s", s.method, s.path, code, s.want, body)
		}
	}

	// A build of this project seen through another project's path.
	e.mustReq(201, "POST", "/api/v1/workspace/acme/project", admin, `{"slug":"other"}`, nil)
	b2 := e.upload(admin, part{"file", "x.ipa", "x"})
	for _, p := range []string{
		"/api/v1/workspace/acme/project/other/build/" + b2.BuildID,
		"/api/v1/workspace/acme/project/other/build/file/" + b2.Files[0].FileID,
	} {
		e.mustReq(404, "GET", p, admin, "", nil)
	}
}

// Workspaces and projects show times as the reference does (whole seconds) and
// nothing beyond their documented fields.
func TestWorkspaceAndProjectJSON(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	for _, path := range []string{"/api/v1/workspace/acme", projPath} {
		var obj map[string]any
		e.mustReq(200, "GET", path, admin, "", &obj)
		created, _ := obj["createdAt"].(string)
		if _, err := time.Parse(time.RFC3339, created); err != nil || strings.Contains(created, ".") {
			t.Errorf("%s createdAt %q: want RFC 3339 in whole seconds", path, created)
		}
		for _, internal := range []string{"seq", "Seq", "CreatedBy"} {
			if _, ok := obj[internal]; ok {
				t.Errorf("%s shows internal field %s", path, internal)
			}
		}
	}
}

// HEAD on a public link is not counted, so it hands out nothing GET would
// have counted: no Location, only the file's type, size and name. On a
// link limited to one download, twenty HEADs leave the one download.
func TestHeadOnLimitedLink(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.zip", "twelve bytes"})
	var l struct{ PublicURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{"downloadLimit":1}`, &l)
	call := func(method string) *http.Response {
		r, _ := http.NewRequest(method, l.PublicURL, nil)
		resp, _ := sendNoRedirect(t, r)
		return resp
	}
	for range 20 {
		resp := call("HEAD")
		if resp.StatusCode != 200 || resp.Header.Get("Location") != "" || resp.Header.Get("Content-Length") != "12" ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="app.zip"` {
			t.Fatalf("HEAD: %d, headers %v", resp.StatusCode, resp.Header)
		}
	}
	first := call("GET")
	if first.StatusCode != 302 {
		t.Fatalf("the one download after 20 HEADs: %d", first.StatusCode)
	}
	if resp := call("GET"); resp.StatusCode != 403 {
		t.Fatalf("a second download: %d, want 403", resp.StatusCode)
	}
	if resp := call("HEAD"); resp.StatusCode != 403 {
		t.Fatalf("HEAD at the limit: %d, want 403 like GET", resp.StatusCode)
	}

	// The signed URL the counted redirect gave works now, and not a minute
	// later: it cannot stand in for the link's limit.
	signed := first.Header.Get("Location")
	resp, body := do(t, "GET", signed, nil)
	wantCode(t, resp, body, 200)
	e.advance(61 * time.Second)
	defer e.advance(-61 * time.Second)
	if resp, _ = do(t, "GET", signed, nil); resp.StatusCode != 403 {
		t.Fatalf("the link's signed URL after a minute: %d, want 403", resp.StatusCode)
	}
}

// Tags at upload through the workspace API (a form field, or JSON), and
// tags and notes changed after upload, through the API and the console:
// audited, and a distribution filtering on a tag follows at once.
func TestBuildTagsAndNotes(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"tags", "", "beta, qa"}, part{"tags", "", "beta"}, part{"file", "app.zip", "zip bytes"})
	var got struct {
		Tags  []string
		Notes string
	}
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID, admin, "", &got)
	if strings.Join(got.Tags, ",") != "beta,qa" {
		t.Fatalf("tags at upload: %v", got.Tags)
	}
	if code, _ := e.req("POST", projPath+"/build", admin, `{"tags":["`+strings.Repeat("x", 101)+`"]}`); code != 400 {
		t.Errorf("a tag too long: %d", code)
	}
	d := e.distribution(admin, `{"slug":"rc","filterType":"tag","filterValue":"rc"}`)
	if _, page, _ := e.getPage("/d/acme/rc", nil); strings.Contains(page, "app.zip") {
		t.Fatal("the rc page shows a build before it is tagged rc")
	}
	e.mustReq(200, "PATCH", projPath+"/build/"+b.BuildID, admin, `{"tags":["rc"],"notes":"Now a release candidate."}`, &got)
	if strings.Join(got.Tags, ",") != "rc" || got.Notes != "Now a release candidate." {
		t.Fatalf("after PATCH: %+v", got)
	}
	if _, page, _ := e.getPage(strings.TrimPrefix(d.URL, e.ts.URL), nil); !strings.Contains(page, "app.zip") || !strings.Contains(page, "Now a release candidate.") {
		t.Errorf("the rc page does not follow the tag: %s", page)
	}
	var changed int
	for _, en := range e.auditSince(admin, "") {
		if en.Action == store.AuditBuildChanged {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d build.changed entries", changed)
	}
	// The console's form.
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	cookie := e.signIn("root", "root-password")
	resp := e.postForm("/w/acme/p/app/b/"+b.BuildID+"/edit", cookie, url.Values{"csrf": {e.csrf(cookie.Value)}, "tags": {"rc, final"}, "notes": {"Final."}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console edit: %d", resp.StatusCode)
	}
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID, admin, "", &got)
	if strings.Join(got.Tags, ",") != "rc,final" || got.Notes != "Final." {
		t.Errorf("after the console's form: %+v", got)
	}
}
