package server_test

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"hangar/config"
	"hangar/pkginfo/pkgtest"
	"hangar/store"
)

// orgResp is the envelope, decoded loosely.
type orgResp struct {
	Status bool            `json:"status"`
	Data   json.RawMessage `json:"data"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type orgBuild struct {
	ID, Status, VersionName, Changelog string
	Tags                               []string
	Files                              []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		File struct {
			OriginalName string `json:"originalName"`
			MimeType     string `json:"mimetype"`
			Size         int64  `json:"size"`
			Location     string `json:"location"`
			Checksum     string `json:"checksum"`
		} `json:"file"`
		CreatedAt string `json:"createdAt"`
		UpdatedAt string `json:"updatedAt"`
	} `json:"files"`
}

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestOrgBuildDetailsAndAttachments(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	sa, _ := e.serviceAccount(admin, "acme", "release-bot", "developer")
	pkg, shot := []byte(helloAPK(t)), randomBytes(50_000)
	b := e.orgUpload(sa, part{"versionName", "", "1.4.0"}, part{"changelog", "", "Fixes"}, part{"tags", "", "beta, qa"},
		part{"notifyCollaborators", "", "true"}, part{"build", "App.apk", string(pkg)})
	if b.Status != "in_progress" || b.VersionName != "1.4.0" || b.Changelog != "Fixes" || len(b.Tags) != 2 || b.Tags[1] != "qa" {
		t.Fatalf("build: %+v", b)
	}
	// Attachments wait for processing (5014 before: TestBuildNotProcessed).
	e.waitProcessed(b.ID)
	if len(b.Files) != 1 || b.Files[0].Type != "package" || b.Files[0].File.OriginalName != "App.apk" ||
		b.Files[0].File.MimeType != "application/vnd.android.package-archive" || b.Files[0].File.Checksum != sha(pkg) {
		t.Fatalf("package: %+v", b.Files)
	}

	// Applivery's "Build Attached Files".
	ctype, body := multipartBody(t, part{"file", "screenshot.png", string(shot)})
	e.org(201, "POST", appPath+"/builds/"+b.ID+"/files", sa, ctype, body)

	// Build Details: Applivery's shape, field for field.
	code, raw := e.req("GET", appPath+"/builds/"+b.ID, sa, "")
	if code != 200 {
		t.Fatalf("details: %d %s", code, raw)
	}
	var generic struct {
		Status bool `json:"status"`
		Data   struct {
			Files []map[string]any `json:"files"`
		} `json:"data"`
	}
	json.Unmarshal(raw, &generic)
	// package, icon (made by processing), attachment.
	if !generic.Status || len(generic.Data.Files) != 3 {
		t.Fatalf("details: %s", raw)
	}
	var meta struct {
		Data struct {
			OS, BundleID, PackageName, AppName, VersionName, VersionCode, MinOS, TargetSDK string
		}
	}
	json.Unmarshal(raw, &meta)
	// versionName as sent; the rest from the APK's manifest.
	if m := meta.Data; m.OS != "android" || m.BundleID != "com.example.helloworld" || m.PackageName != m.BundleID ||
		m.AppName != "HelloWorld" || m.VersionName != "1.4.0" || m.VersionCode != "1" || m.MinOS != "15" || m.TargetSDK != "24" {
		t.Fatalf("package metadata: %+v", m)
	}
	icon := generic.Data.Files[1]
	iconFile := icon["file"].(map[string]any)
	if icon["type"] != "icon" || iconFile["mimetype"] != "image/png" {
		t.Fatalf("icon entry: %v", icon)
	}
	resp, got := do(t, "GET", iconFile["location"].(string), nil)
	wantCode(t, resp, got, 200)
	if cfg, err := png.DecodeConfig(bytes.NewReader(got)); err != nil || cfg.Width != 192 {
		t.Fatalf("icon: %v, %v (want the 192 px xxxhdpi launcher icon)", cfg, err)
	}
	att := generic.Data.Files[2]
	for _, k := range []string{"id", "type", "file", "createdAt", "updatedAt"} {
		if _, ok := att[k]; !ok {
			t.Errorf("files[] lacks %q: %v", k, att)
		}
	}
	inner := att["file"].(map[string]any)
	for _, k := range []string{"originalName", "mimetype", "size", "location", "checksum"} {
		if _, ok := inner[k]; !ok {
			t.Errorf("files[].file lacks %q: %v", k, inner)
		}
	}
	if att["type"] != "attachment" || inner["originalName"] != "screenshot.png" || inner["mimetype"] != "image/png" ||
		inner["size"] != float64(50_000) || inner["checksum"] != sha(shot) {
		t.Fatalf("attachment: %v", att)
	}
	if !isoMillis.MatchString(att["createdAt"].(string)) || !isoMillis.MatchString(att["updatedAt"].(string)) {
		t.Fatalf("times %v %v: want ISO 8601 UTC with milliseconds", att["createdAt"], att["updatedAt"])
	}
	// location is a working signed URL.
	resp, got = do(t, "GET", inner["location"].(string), nil)
	wantCode(t, resp, got, 200)
	if sha(got) != sha(shot) {
		t.Fatal("location served other bytes")
	}

	// Organization and app by id work as by slug.
	ws, _ := e.store.WorkspaceBySlug("acme")
	p, _ := e.store.ProjectBySlug(ws.ID, "app")
	e.org(200, "GET", "/v1/organizations/"+ws.ID+"/apps/"+p.ID+"/builds/"+b.ID, sa, "", nil)

	// Errors in the envelope.
	r := e.org(404, "GET", appPath+"/builds/nope", sa, "", nil)
	wantOrgError(t, r, 3001, "Entity not found")
	r = e.org(404, "GET", "/v1/organizations/nope/apps/app/builds/"+b.ID, sa, "", nil)
	wantOrgError(t, r, 3001, "Entity not found")
	r = e.org(401, "GET", appPath+"/builds/"+b.ID, "", "", nil)
	wantOrgError(t, r, 4002, "No auth token")
	// A token that is not one is told apart from none, as Applivery does
	// (its fastlane plugin says "The app_token is not valid" for 4004).
	r = e.org(401, "GET", appPath+"/builds/"+b.ID, "hgr_not_a_token", "", nil)
	wantOrgError(t, r, 4004, "Invalid token")
	r = e.org(401, "GET", appPath+"/builds/"+b.ID, "not-even-ours", "", nil)
	wantOrgError(t, r, 4004, "Invalid token")
}

func TestDownloadTokenFlow(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	sa, _ := e.serviceAccount(admin, "acme", "reader", "viewer")
	pkg, att := []byte(demoIPA()), randomBytes(20_000)
	b := e.orgUpload(admin, part{"build", "App.ipa", string(pkg)})
	e.waitProcessed(b.ID)
	ctype, body := multipartBody(t, part{"file", "screenshot.png", string(att)})
	r := e.org(201, "POST", appPath+"/builds/"+b.ID+"/files", admin, ctype, body)
	var withAtt orgBuild
	json.Unmarshal(r.Data, &withAtt)
	attID := withAtt.Files[len(withAtt.Files)-1].ID // after the package and its icon

	token := func(query string) (string, time.Time) {
		r := e.org(200, "GET", appPath+"/builds/"+b.ID+"/downloadToken"+query, sa, "", nil)
		var d struct {
			Token     string `json:"token"`
			ExpiresAt string `json:"expiresAt"`
		}
		json.Unmarshal(r.Data, &d)
		exp, err := time.Parse(time.RFC3339, d.ExpiresAt)
		if err != nil || !isoMillis.MatchString(d.ExpiresAt) || len(d.Token) < 43 {
			t.Fatalf("token data: %+v", d)
		}
		return d.Token, exp
	}
	redeem := func(tok string) (*http.Response, []byte) {
		r, _ := http.NewRequest("GET", e.ts.URL+"/v1/download/"+tok, nil)
		return sendNoRedirect(t, r)
	}

	// Step 1 and 2 for the attachment, as Applivery's reference describes them.
	tok, exp := token("?fileId=" + attID + "&type=auto")
	if want := e.clock().Add(config.Default().DownloadTokenTTL); exp.Sub(want).Abs() > time.Second {
		t.Fatalf("expiresAt %v, want %v", exp, want)
	}
	resp, body := redeem(tok)
	if resp.StatusCode != 302 || len(body) != 0 || !strings.HasPrefix(resp.Header.Get("Location"), e.ts.URL+"/dl/") {
		t.Fatalf("redeem: %d, Location %q, body %q", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp2, got := do(t, "GET", resp.Header.Get("Location"), nil)
	wantCode(t, resp2, got, 200)
	if sha(got) != sha(att) {
		t.Fatal("downloaded other bytes than the attachment")
	}
	// The single-use token's signed URL lasts a minute, not
	// signed_url_ttl: it cannot stand in for the token.
	e.advance(61 * time.Second)
	if late, _ := do(t, "GET", resp.Header.Get("Location"), nil); late.StatusCode != 403 {
		t.Fatalf("the token's signed URL a minute later: %d, want 403", late.StatusCode)
	}
	e.advance(-61 * time.Second)
	if strings.Contains(e.logs.String(), tok) {
		t.Fatal("download token in the request log")
	}

	// Used once: the second use is 4005.
	resp, body = redeem(tok)
	var er orgResp
	json.Unmarshal(body, &er)
	if resp.StatusCode != 401 {
		t.Fatalf("second use: got %d: %s", resp.StatusCode, body)
	}
	wantOrgError(t, er, 4005, "Token Expired")
	resp, body = redeem("hgr_unknown_token")
	json.Unmarshal(body, &er)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown token: got %d", resp.StatusCode)
	}
	wantOrgError(t, er, 3001, "Entity not found")

	// Without fileId: the package.
	tok, _ = token("")
	resp, _ = redeem(tok)
	resp2, got = do(t, "GET", resp.Header.Get("Location"), nil)
	wantCode(t, resp2, got, 200)
	if sha(got) != sha(pkg) {
		t.Fatal("a token without fileId did not name the package")
	}

	// Expiry, with the injected clock.
	tok, _ = token("?type=auto")
	e.advance(config.Default().DownloadTokenTTL)
	resp, body = redeem(tok)
	json.Unmarshal(body, &er)
	if resp.StatusCode != 401 {
		t.Fatalf("expired: %d", resp.StatusCode)
	}
	wantOrgError(t, er, 4005, "Token Expired")
	e.advance(-config.Default().DownloadTokenTTL)

	// A fileId of another build is not found; type must be auto.
	other := e.orgUpload(admin, part{"build", "Other.ipa", "other"})
	r = e.org(404, "GET", appPath+"/builds/"+b.ID+"/downloadToken?fileId="+other.Files[0].ID, sa, "", nil)
	wantOrgError(t, r, 3001, "Entity not found")
	e.org(400, "GET", appPath+"/builds/"+b.ID+"/downloadToken?type=zip", sa, "", nil)
}

func TestDownloadTokenSingleUseUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.orgUpload(admin, part{"build", "App.zip", "payload"}) // processed at once: not a package
	r := e.org(200, "GET", appPath+"/builds/"+b.ID+"/downloadToken", admin, "", nil)
	var d struct{ Token string }
	json.Unmarshal(r.Data, &d)

	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 32},
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(e.ts.URL + "/v1/download/" + d.Token)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[302] != 1 || codes[401] != 31 {
		t.Fatalf("got %v, want one 302 and 31 × 401 (Token Expired)", codes)
	}
}

// Builds still being read, and builds whose package could not be read,
// take no download token and no attachment (Applivery's 5014). The builds
// are made in the store in those states, not raced against a worker.
func TestBuildNotProcessed(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	for _, status := range []string{store.BuildInProgress, store.BuildError} {
		b, err := e.store.CreateBuild(store.Build{ProjectID: e.build.ProjectID, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		r := e.org(400, "GET", appPath+"/builds/"+b.ID+"/downloadToken?type=auto", admin, "", nil)
		wantOrgError(t, r, 5014, "Build Not Processed")
		ctype, body := multipartBody(t, part{"file", "a.txt", "x"})
		r = e.org(400, "POST", appPath+"/builds/"+b.ID+"/files", admin, ctype, body)
		wantOrgError(t, r, 5014, "Build Not Processed")
		if files, _ := e.store.Files(b.ID); len(files) != 0 {
			t.Fatalf("a file was attached to a build in status %s", status)
		}
	}
}

func TestAttachmentOnlyBuild(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.orgUpload(admin, part{"versionName", "", "docs-only"})
	if b.Status != "processed" || len(b.Files) != 0 {
		t.Fatalf("a build without a package: %+v", b)
	}
	ctype, body := multipartBody(t, part{"file", "manual.pdf", "pdf"}, part{"file", "notes.txt", "txt"})
	r := e.org(201, "POST", appPath+"/builds/"+b.ID+"/files", admin, ctype, body)
	var got orgBuild
	json.Unmarshal(r.Data, &got)
	if len(got.Files) != 2 || got.Files[0].Type != "attachment" || got.Files[1].Type != "attachment" {
		t.Fatalf("files: %+v", got.Files)
	}
	// No package: a token without fileId has nothing to name.
	r = e.org(404, "GET", appPath+"/builds/"+b.ID+"/downloadToken", admin, "", nil)
	wantOrgError(t, r, 3001, "Entity not found")
	e.org(200, "GET", appPath+"/builds/"+b.ID+"/downloadToken?fileId="+got.Files[0].ID+"&type=auto", admin, "", nil)
}

func TestIntegrationsAPI(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	var app struct{ Token string }
	e.mustReq(201, "POST", projPath+"/app-token", admin, `{"name":"ci"}`, &app)

	ctype, body := multipartBody(t, part{"versionName", "", "9.9"}, part{"build", "App.aab", string(pkgtest.AAB())})
	r := e.org(201, "POST", "/v1/integrations/builds", app.Token, ctype, body)
	var b orgBuild
	json.Unmarshal(r.Data, &b)
	if b.VersionName != "9.9" || len(b.Files) != 1 || b.Files[0].Type != "package" {
		t.Fatalf("integration upload: %+v", b)
	}
	// The versionName sent wins over the bundle's (3.0.0-beta); the rest
	// comes from the bundle's protobuf manifest.
	if p := e.waitProcessed(b.ID); p.Status != "processed" || p.VersionName != "9.9" || p.VersionCode != "77" ||
		p.BundleID != "com.example.bundle" || p.OS != "android" {
		t.Fatalf("processed bundle: %+v", p)
	}
	if stored, err := e.store.Build(b.ID); err != nil || stored.ProjectID != e.build.ProjectID {
		t.Fatalf("build in project %v (%v), want the app token's", stored.ProjectID, err)
	}
	ctype, body = multipartBody(t, part{"file", "mapping.txt", "map"})
	e.org(201, "POST", "/v1/integrations/builds/"+b.ID+"/files", app.Token, ctype, body)

	// The app token downloads nothing, and the integrations API takes only
	// app tokens.
	r = e.org(403, "GET", appPath+"/builds/"+b.ID+"/downloadToken?type=auto", app.Token, "", nil)
	wantOrgError(t, r, 4003, "")
	ctype, body = multipartBody(t, part{"build", "x.apk", "x"})
	e.org(403, "POST", "/v1/integrations/builds", admin, ctype, body)
	e.org(401, "POST", "/v1/integrations/builds", "", ctype, body)

	// A build of another project is not found through this app's token.
	e.mustReq(201, "POST", "/api/v1/workspace/acme/project", admin, `{"slug":"other"}`, nil)
	ctype, body = multipartBody(t, part{"build", "o.apk", "o"})
	r = e.org(201, "POST", "/v1/organizations/acme/apps/other/builds", admin, ctype, body)
	var ob orgBuild
	json.Unmarshal(r.Data, &ob)
	ctype, body = multipartBody(t, part{"file", "x.txt", "x"})
	r = e.org(404, "POST", "/v1/integrations/builds/"+ob.ID+"/files", app.Token, ctype, body)
	wantOrgError(t, r, 3001, "Entity not found")
}

func TestOrgUploadLimits(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.MaxUploadSize = 1000 })
	admin := e.adminToken()
	ctype, body := multipartBody(t, part{"build", "big.ipa", string(randomBytes(1001))})
	r := e.org(413, "POST", appPath+"/builds", admin, ctype, body)
	wantOrgError(t, r, 4013, "")
	ctype, body = multipartBody(t, part{"build", "a.ipa", "a"}, part{"build", "b.ipa", "b"})
	e.org(400, "POST", appPath+"/builds", admin, ctype, body)
	if builds, _, _ := e.store.Builds(e.build.ProjectID, store.Page{}); len(builds) != 1 {
		t.Fatalf("refused uploads left %d builds, want only the fixture's", len(builds)-1)
	}
	if n := e.blobCount(); n != 0 {
		t.Fatalf("refused uploads left %d blobs", n)
	}
}
