package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	plistlib "howett.net/plist"

	"hangar/pkginfo/pkgtest"
	"hangar/store"
)

// decodeQR reads the text of a QR code PNG.
func decodeQR(t *testing.T, pngBytes []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("QR image: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// PURE_BARCODE: the image is the code and its quiet zone, as
	// generated. Without it gozxing's finder-pattern search (made for
	// photos) misses about 2 % of 200-pixel codes of these URLs, which
	// PURE_BARCODE reads, module for module, every time (3,000 tried).
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("QR decode: %v", err)
	}
	return res.GetText()
}

// qrOf fetches the QR code a page shows and decodes it.
func qrOf(t *testing.T, page []byte) string {
	t.Helper()
	m := regexp.MustCompile(`<img src="([^"]+/qr)" alt="QR code of this page"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no QR code on the page: %s", page)
	}
	resp, body := do(t, "GET", html.UnescapeString(string(m[1])), nil)
	wantCode(t, resp, body, 200)
	return decodeQR(t, body)
}

// Every tester page's QR code decodes to that page's own URL; the reference's
// QR endpoint keeps encoding the link's publicUrl.
func TestTesterPageQRCodes(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	var link struct{ PublicLinkID, PublicURL, InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{"downloadLimit": 1}`, &link)
	d := e.distribution(admin, `{"slug":"beta"}`)
	if d.URL != e.ts.URL+"/acme/beta" && d.URL != e.ts.URL+"/d/acme/beta" {
		t.Fatalf("distribution url %q", d.URL)
	}
	for _, ua := range []string{desktopUA, iPhoneUA, androidUA} {
		for _, pageURL := range []string{link.InstallURL, d.URL} {
			resp, page := get(t, pageURL, http.Header{"User-Agent": {ua}})
			wantCode(t, resp, page, 200)
			if got := qrOf(t, page); got != pageURL {
				t.Errorf("%s on %.20s: QR encodes %q", pageURL, ua, got)
			}
		}
	}
	resp, body := do(t, "GET", d.QRURL, nil)
	wantCode(t, resp, body, 200)
	if got := decodeQR(t, body); got != d.URL {
		t.Errorf("qrUrl encodes %q", got)
	}
	// Scanning the page's code does not use up the link.
	var l struct{ AccessCount int64 }
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID+"/public-links", admin, "", nil)
	resp, body = do(t, "GET", e.ts.URL+"/api/v1/public/file/"+link.PublicLinkID+"/qr", nil)
	wantCode(t, resp, body, 200)
	if got := decodeQR(t, body); got != link.PublicURL {
		t.Errorf("the reference's QR encodes %q, want the publicUrl", got)
	}
	lk, _ := e.store.Link(link.PublicLinkID)
	if l.AccessCount = lk.AccessCount; l.AccessCount != 0 {
		t.Errorf("QR codes used the link: %d downloads", l.AccessCount)
	}
}

// A distribution follows new builds: its page shows the newest processed
// build its filter matches, with no new link made.
func TestDistributionFollowsBuilds(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	upload := func(version, tags string) orgBuild {
		b := e.orgUpload(admin, part{"versionName", "", version}, part{"tags", "", tags}, part{"build", "app.apk", helloAPK(t)})
		e.waitProcessed(b.ID)
		return b
	}
	b1 := upload("1.0.1", "beta")
	latest := e.distribution(admin, `{"slug":"latest","name":"Every build","showHistory":true}`)
	beta := e.distribution(admin, `{"slug":"beta","filterType":"tag","filterValue":"beta"}`)
	// The same APK labelled with other versions: the label names the build
	// (the package's own version, 1.0, comes first).
	version := func(d distResp) string {
		resp, body := get(t, d.URL, http.Header{"User-Agent": {androidUA}})
		wantCode(t, resp, body, 200)
		m := regexp.MustCompile(`id="version">Version 1.0 \(1\) <span id="label">· labelled ([^<]*) at upload<`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("no version on %s: %s", d.URL, body)
		}
		return "Version " + string(m[1])
	}
	if v := version(latest); v != "Version 1.0.1 (1)" {
		t.Fatalf("latest shows %q", v)
	}
	b2 := upload("1.0.2", "beta")
	upload("1.0.3", "rc")
	if v := version(latest); v != "Version 1.0.3 (1)" {
		t.Errorf("latest shows %q after build 3", v)
	}
	if v := version(beta); v != "Version 1.0.2 (1)" {
		t.Errorf("beta shows %q, want build 2", v)
	}
	// The history lists the earlier builds, newest first.
	resp, body := get(t, latest.URL, http.Header{"User-Agent": {androidUA}})
	wantCode(t, resp, body, 200)
	page := string(body)
	if !strings.Contains(page, `id="heading">Every build<`) {
		t.Error("the distribution's name is not on its page")
	}
	if i, j := strings.Index(page, "1.0.2"), strings.Index(page, "1.0.1"); !strings.Contains(page, `id="history"`) || i < 0 || j < i {
		t.Errorf("history: %s", page)
	}
	// No build is in a state to be shown without processing: a pending
	// one does not take the page over.
	links, _ := e.store.LinksOfFile(b2.ID)
	if len(links) != 0 {
		t.Error("a link was made")
	}
	// The APK downloads through the page, counted and logged.
	m := regexp.MustCompile(`id="download" href="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no download on the Android page: %s", body)
	}
	resp, got := do(t, "GET", html.UnescapeString(string(m[1])), http.Header{"User-Agent": {androidUA}})
	wantCode(t, resp, got, 200)
	if string(got) != helloAPK(t) {
		t.Fatal("download: other bytes")
	}
	var log []struct{ ClientIP, UserAgent string }
	e.mustReq(200, "GET", projPath+"/distribution/latest/access-log", admin, "", &log)
	var d distResp
	e.mustReq(200, "GET", projPath+"/distribution/"+latest.ID, admin, "", &d)
	if len(log) != 1 || log[0].UserAgent != androidUA || log[0].ClientIP != "127.0.0.1" || d.AccessCount != 1 {
		t.Errorf("access log %+v, count %d", log, d.AccessCount)
	}
	// A file of a build the filter does not show is not served through it.
	rc := upload("1.0.4", "rc")
	files, _ := e.store.Files(rc.ID)
	resp, got = do(t, "GET", fmt.Sprintf("%s/f/%s/%s", beta.URL, files[0].ID, files[0].Name), nil)
	wantCode(t, resp, got, 404)
	_ = b1
}

// The distribution API: slugs unique per workspace, filters and modes
// checked, the password write-only, updates and deletion.
func TestDistributionAPI(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	d := e.distribution(admin, `{"slug":"qa","name":"QA","security":"password","password":"open sesame"}`)
	code, body := e.req("POST", projPath+"/distribution", admin, `{"slug":"qa"}`)
	if code != 409 {
		t.Errorf("duplicate slug: %d %s", code, body)
	}
	for _, bad := range []string{`{"slug":"Bad Slug"}`, `{"slug":"x","filterType":"branch"}`, `{"slug":"x","filterType":"tag"}`,
		`{"slug":"x","security":"password"}`, `{"slug":"x","security":"password","password":"123"}`, `{"slug":"x","security":"open"}`,
		`{"slug":"x","password":"secret-pass"}`} {
		if code, body := e.req("POST", projPath+"/distribution", admin, bad); code != 400 {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
	code, body = e.req("GET", projPath+"/distribution/qa", admin, "")
	if code != 200 || strings.Contains(string(body), `"password":`) || strings.Contains(string(body), "passwordHash") || strings.Contains(string(body), "argon2") {
		t.Errorf("get: %d %s", code, body)
	}
	var got struct {
		Slug, Security, FilterType, FilterValue string
		ShowHistory                             bool
	}
	e.mustReq(200, "PATCH", projPath+"/distribution/"+d.ID, admin, `{"slug":"qa2","security":"public","filterType":"tag","filterValue":"rc","showHistory":true}`, &got)
	if got.Slug != "qa2" || got.Security != "public" || got.FilterValue != "rc" || !got.ShowHistory {
		t.Errorf("patched: %+v", got)
	}
	resp, page := get(t, e.ts.URL+"/d/acme/qa2", nil)
	wantCode(t, resp, page, 200)
	if !strings.Contains(string(page), "No build yet") {
		t.Errorf("empty distribution page: %s", page)
	}
	resp, page = get(t, e.ts.URL+"/d/acme/qa", nil)
	wantCode(t, resp, page, 404)
	dist, _ := e.store.Distribution(d.ID)
	if dist.PasswordHash != "" {
		t.Error("a public distribution kept its password hash")
	}
	var list []distResp
	e.mustReq(200, "GET", projPath+"/distribution", admin, "", &list)
	if len(list) != 1 || list[0].Slug != "qa2" {
		t.Errorf("list: %+v", list)
	}
	e.mustReq(204, "DELETE", projPath+"/distribution/qa2", admin, "", nil)
	e.mustReq(404, "GET", projPath+"/distribution/qa2", admin, "", nil)
	resp, page = get(t, e.ts.URL+"/d/acme/qa2", nil)
	wantCode(t, resp, page, 404)
}

// Password mode: without the cookie, the form; a wrong password gets no
// download and is limited after a few; the right one opens the page and
// counts the download. The password appears in no log line.
func TestPasswordProtection(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.apk", helloAPK(t)})
	e.waitProcessed(b.BuildID)
	const secret = "tangerine-42"
	var link struct{ PublicLinkID, PublicURL, InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{"password":"`+secret+`"}`, &link)
	d := e.distribution(admin, `{"slug":"private","security":"password","password":"`+secret+`"}`)

	for _, tc := range []struct{ name, page, download string }{
		{"link", link.InstallURL, link.PublicURL},
		{"distribution", d.URL, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.page, http.Header{"User-Agent": {androidUA}})
			wantCode(t, resp, body, 200)
			if !strings.Contains(string(body), `name="password"`) || strings.Contains(string(body), "HelloWorld") {
				t.Fatalf("locked page: %s", body)
			}
			// Wrong passwords: the form again, then 429.
			resp, body = postForm(t, tc.page, url.Values{"password": {"wrong-guess"}})
			wantCode(t, resp, body, http.StatusUnauthorized)
			if !strings.Contains(string(body), "Wrong password") || len(resp.Cookies()) != 0 {
				t.Fatalf("wrong password: %s", body)
			}
			limited := false
			for range 10 {
				resp, _ = postForm(t, tc.page, url.Values{"password": {"wrong-guess"}})
				if resp.StatusCode == http.StatusTooManyRequests {
					limited = true
					break
				}
			}
			if !limited {
				t.Fatal("wrong passwords are not limited")
			}
			e.advance(10 * time.Minute) // the buckets refill
			// A form from another site is refused.
			r, _ := http.NewRequest("POST", tc.page, strings.NewReader("password="+secret))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			if resp, err := noRedirect.Do(r); err != nil || resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
				t.Fatalf("cross-site form: %v %v", resp.StatusCode, err)
			}
			// The right one: a cookie for this page, back to the page.
			resp, body = postForm(t, tc.page, url.Values{"password": {secret}})
			wantCode(t, resp, body, http.StatusSeeOther)
			cookies := resp.Cookies()
			if len(cookies) != 1 || !cookies[0].HttpOnly || strings.Contains(cookies[0].Value, secret) {
				t.Fatalf("unlock cookie: %v", cookies)
			}
			resp, body = get(t, tc.page, http.Header{"User-Agent": {androidUA}}, cookies...)
			wantCode(t, resp, body, 200)
			m := regexp.MustCompile(`id="download" href="([^"]+)"`).FindSubmatch(body)
			if m == nil {
				t.Fatalf("unlocked page: %s", body)
			}
			dl := html.UnescapeString(string(m[1]))
			if tc.download != "" && dl != tc.download {
				t.Fatalf("download %s, want the publicUrl", dl)
			}
			// Without the cookie: a browser goes to the form, a client gets
			// a Basic challenge; with a wrong Basic password, nothing.
			resp, _ = get(t, dl, http.Header{"Accept": {"text/html"}})
			if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), strings.TrimPrefix(tc.page, e.ts.URL)) {
				t.Fatalf("browser without cookie: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			resp, body = get(t, dl, nil)
			wantCode(t, resp, body, http.StatusUnauthorized)
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("no Basic challenge: %v", resp.Header)
			}
			wantWorkspaceError(t, body, "PASSWORD_REQUIRED")
			r, _ = http.NewRequest("GET", dl, nil)
			r.SetBasicAuth("", "nope-nope")
			if resp, _ := noRedirect.Do(r); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong Basic password: %d", resp.StatusCode)
			}
			// With the cookie, and with Basic auth (curl -u :password): counted.
			resp, _ = get(t, dl, nil, cookies...)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("download with the cookie: %d", resp.StatusCode)
			}
			r, _ = http.NewRequest("GET", dl, nil)
			r.SetBasicAuth("", secret)
			resp, err := http.DefaultClient.Do(r)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("curl -u :password: %v %v", resp.StatusCode, err)
			}
			resp.Body.Close()
		})
	}
	l, _ := e.store.Link(link.PublicLinkID)
	dd, _ := e.store.Distribution(d.ID)
	if l.AccessCount != 2 || dd.AccessCount != 2 {
		t.Errorf("counted %d link and %d distribution downloads, want 2 each", l.AccessCount, dd.AccessCount)
	}
	// A new password locks the page again.
	e.mustReq(200, "PATCH", projPath+"/distribution/private", admin, `{"password":"another-one"}`, nil)
	if logs := e.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, "another-one") || !strings.Contains(logs, "/d/acme/private") {
		t.Errorf("the log shows a password, or no request at all: %s", logs)
	}
}

// A protected iPhone install: the page (over HTTPS) gives a signed
// manifest, which signs the package URL it names, since the installer
// sends no cookie; both work an hour later, and without the signature
// nothing is served.
func TestProtectedInstallManifest(t *testing.T) {
	e := newProxiedEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"version", "", "3.0"}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	d := e.distribution(admin, `{"slug":"ios","security":"password","password":"hunter-22"}`)
	resp, _ := postForm(t, d.URL, url.Values{"password": {"hunter-22"}})
	cookies := resp.Cookies()
	resp, body := get(t, d.URL, overHTTPS(iPhoneUA), cookies...)
	wantCode(t, resp, body, 200)
	m := regexp.MustCompile(`id="install" href="(itms-services://[^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no Install on the unlocked page over HTTPS: %s", body)
	}
	itms, _ := url.Parse(html.UnescapeString(string(m[1])))
	manifestURL := strings.Replace(itms.Query().Get("url"), "https://", "http://", 1)
	e.advance(50 * time.Minute)
	resp, body = get(t, manifestURL, overHTTPS(iPhoneUA)) // no cookie, as the installer
	wantCode(t, resp, body, 200)
	var manifest struct {
		Items []struct {
			Assets   []map[string]any `plist:"assets"`
			Metadata map[string]any   `plist:"metadata"`
		} `plist:"items"`
	}
	if _, err := plistlib.Unmarshal(body, &manifest); err != nil || len(manifest.Items) != 1 {
		t.Fatalf("manifest: %v %s", err, body)
	}
	item := manifest.Items[0]
	kinds := map[string]string{}
	for _, a := range item.Assets {
		kinds[a["kind"].(string)] = a["url"].(string)
	}
	for _, k := range []string{"software-package", "display-image", "full-size-image"} {
		if kinds[k] == "" {
			t.Errorf("manifest lacks %s", k)
		}
	}
	for _, k := range []string{"bundle-identifier", "bundle-version", "kind", "title"} {
		if item.Metadata[k] == nil {
			t.Errorf("manifest metadata lacks %s", k)
		}
	}
	if item.Metadata["bundle-version"] != "241" || item.Metadata["title"] != "Demo App" {
		t.Errorf("metadata %v", item.Metadata)
	}
	pkg := strings.Replace(kinds["software-package"], "https://", "http://", 1)
	resp, got := do(t, "GET", pkg, nil)
	wantCode(t, resp, got, 200)
	if string(got) != demoIPA() {
		t.Fatal("package URL: other bytes")
	}
	unsigned, _, _ := strings.Cut(pkg, "?")
	resp, body = get(t, unsigned, nil)
	wantCode(t, resp, body, http.StatusUnauthorized)
	unsignedManifest, _, _ := strings.Cut(manifestURL, "?")
	resp, body = get(t, unsignedManifest, nil)
	wantCode(t, resp, body, http.StatusForbidden)
	// The signature is for this page only.
	other := e.distribution(admin, `{"slug":"ios2","security":"password","password":"hunter-22"}`)
	_, query, _ := strings.Cut(manifestURL, "?")
	resp, body = get(t, strings.Replace(unsignedManifest, "/d/acme/ios/", "/d/acme/ios2/", 1)+"?"+query, nil)
	wantCode(t, resp, body, http.StatusForbidden)
	_ = other
	// An hour after the page gave it out, the signed manifest has expired.
	e.advance(10 * time.Minute)
	resp, body = get(t, manifestURL, nil)
	wantCode(t, resp, body, http.StatusForbidden)
}

// issued opens a protected page as an iPhone over HTTPS would (with the
// cookies that open it) and returns the URLs it signs: the manifest, the
// manifest's package URL, the registration profile; each answers at first.
func issued(t *testing.T, page string, cookies ...*http.Cookie) []string {
	t.Helper()
	resp, body := get(t, page, overHTTPS(iPhoneUA), cookies...)
	wantCode(t, resp, body, 200)
	m := regexp.MustCompile(`id="install" href="(itms-services://[^"]+)"`).FindSubmatch(body)
	reg := regexp.MustCompile(`id="register" href="([^"]+)"`).FindSubmatch(body)
	if m == nil || reg == nil {
		t.Fatalf("no Install or Register on the page: %s", body)
	}
	itms, _ := url.Parse(html.UnescapeString(string(m[1])))
	manifest := strings.Replace(itms.Query().Get("url"), "https://", "http://", 1)
	resp, body = get(t, manifest, nil)
	wantCode(t, resp, body, 200)
	pkg := regexp.MustCompile(`<string>(https?://[^<]+/[fi]/[^<]+)</string>`).FindSubmatch(body)
	if pkg == nil {
		t.Fatalf("no package URL in the manifest: %s", body)
	}
	urls := []string{manifest, strings.Replace(html.UnescapeString(string(pkg[1])), "https://", "http://", 1),
		strings.Replace(html.UnescapeString(string(reg[1])), "https://", "http://", 1)}
	for _, u := range urls {
		resp, body := do(t, "GET", u, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s before the change: %d %s", u, resp.StatusCode, body)
		}
	}
	return urls
}

// dead checks that none of urls answers any more.
func dead(t *testing.T, what string, urls []string) {
	t.Helper()
	for _, u := range urls {
		if resp, body := do(t, "GET", u, nil); resp.StatusCode < 400 {
			t.Errorf("%s: %s still answers %d %.80s", what, u, resp.StatusCode, body)
		}
	}
}

// Everything a protected page signs (manifest, package, registration
// profile) ends as soon as the page's protection changes: a new password,
// another security mode, the member removed. Before, the old
// manifest answered 200 and its package URL 302 for 12 hours after any of
// these.
func TestSignedURLsFollowProtection(t *testing.T) {
	e := newProxiedEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"version", "", "3.0"}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	e.member(admin, "mia", "mia-password", "viewer")
	mia := &http.Cookie{Name: "hangar_session", Value: e.login("mia", "mia-password")}

	unlock := func(d distResp, pw string) []*http.Cookie {
		resp, _ := postForm(t, d.URL, url.Values{"password": {pw}})
		return resp.Cookies()
	}
	patch := func(d distResp, body string) {
		e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme/project/app/distribution/"+d.ID, admin, body, nil)
	}

	d := e.distribution(admin, `{"slug":"pw","security":"password","password":"first-pw"}`)
	urls := issued(t, d.URL, unlock(d, "first-pw")...)
	patch(d, `{"password":"second-pw"}`)
	dead(t, "after a new password", urls)

	urls = issued(t, d.URL, unlock(d, "second-pw")...)
	patch(d, `{"security":"members"}`)
	dead(t, "after password to members", urls)

	urls = issued(t, d.URL, mia)
	patch(d, `{"security":"password","password":"second-pw"}`)
	dead(t, "after members to password", urls)
	// Back to members: URLs of the first members period do not revive.
	patch(d, `{"security":"members"}`)
	dead(t, "after members, password, members again", urls)

	urls = issued(t, d.URL, mia)
	e.member(admin, "max", "max-password", "developer")
	admins := issued(t, d.URL, &http.Cookie{Name: "hangar_session", Value: e.login("max", "max-password")})
	e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/workspace/acme/member/user/mia", admin, "", nil)
	dead(t, "after the member's removal", urls)
	// Other members' URLs are theirs, and live on.
	for _, u := range admins {
		if resp, body := do(t, "GET", u, nil); resp.StatusCode != 200 {
			t.Errorf("another member's %s after mia's removal: %d %s", u, resp.StatusCode, body)
		}
	}
	// A URL cannot be moved to another member by editing its m=.
	forged := strings.Replace(admins[0], "&m=", "&m=x", 1)
	if resp, _ := do(t, "GET", forged, nil); resp.StatusCode != http.StatusNotFound { // a members-only page's answer is an unknown page's
		t.Errorf("a manifest URL with another member: %d", resp.StatusCode)
	}
}

// Members-only: signed out, the sign-in page (and back); a member who may
// download sees it; another workspace's user does not.
func TestMembersOnlyDistribution(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.apk", helloAPK(t)})
	e.waitProcessed(b.BuildID)
	d := e.distribution(admin, `{"slug":"team","security":"members"}`)
	resp, page := get(t, d.URL, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(page), `id="signin" href="/signin?next=%2Fd%2Facme%2Fteam"`) {
		t.Fatalf("signed out: %d %s", resp.StatusCode, page)
	}
	e.newUser(admin, `{"username":"vera","password":"long-password"}`)
	e.newUser(admin, `{"username":"olga","password":"long-password"}`)
	e.mustReq(200, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"vera","role":"viewer"}`, nil)
	vera, olga := e.login("vera", "long-password"), e.login("olga", "long-password")
	code, body := e.page("GET", "/d/acme/team", vera, "")
	if code != 200 || !strings.Contains(string(body), "HelloWorld") {
		t.Fatalf("member: %d %s", code, body)
	}
	if code, _ = e.page("GET", "/d/acme/team", olga, ""); code != 404 {
		t.Fatalf("not a member: %d", code)
	}
	// Signing in from the page comes back to it.
	if code, signin := e.page("GET", "/signin?next=%2Fd%2Facme%2Fteam", "", ""); code != 200 || !strings.Contains(string(signin), "/d/acme/team") {
		t.Fatalf("sign-in page from the members-only page: %d", code)
	}
	m := regexp.MustCompile(`id="download" href="([^"]+)"`).FindSubmatch(body)
	dl := html.UnescapeString(string(m[1]))
	if code, _ = e.page("GET", strings.TrimPrefix(dl, e.ts.URL), vera, ""); code != http.StatusFound {
		t.Fatalf("member download: %d", code)
	}
	resp, _ = get(t, dl, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("download signed out: %d", resp.StatusCode)
	}
}

// Before anyone signs in or unlocks, a members-only page cannot be told
// from a name never used (its page, QR code and downloads), and a
// password page's QR code is not served (before, the QR
// answered 200 for protected pages and 404 otherwise).
func TestProtectedPagesNotEnumerable(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.apk", helloAPK(t)})
	e.waitProcessed(b.BuildID)
	e.distribution(admin, `{"slug":"team","security":"members"}`)
	e.distribution(admin, `{"slug":"pw","security":"password","password":"shared-pw"}`)
	e.distribution(admin, `{"slug":"open"}`)
	answer := func(path string) (int, string) {
		resp, body := get(t, e.ts.URL+path, http.Header{"User-Agent": {desktopUA}})
		return resp.StatusCode, strings.ReplaceAll(string(body), url.QueryEscape(path), "PATH")
	}
	for _, suffix := range []string{"", "/qr", "/f/" + b.Files[0].FileID + "/app.apk", "/m/" + b.Files[0].FileID + "/manifest.plist", "/enroll"} {
		codeU, bodyU := answer("/d/acme/never" + suffix)
		codeM, bodyM := answer("/d/acme/team" + suffix)
		if codeU != codeM || bodyU != bodyM || codeU != 404 {
			t.Errorf("%s: unknown %d, members-only %d:\n%s\n%s", suffix, codeU, codeM, bodyU, bodyM)
		}
	}
	if code, _ := answer("/d/acme/pw/qr"); code != 404 {
		t.Errorf("a password page's QR, locked: %d", code)
	}
	if code, _ := answer("/d/acme/open/qr"); code != 200 {
		t.Errorf("a public page's QR: %d", code)
	}
	// Members see every QR code (the console shows them); whoever unlocked
	// a password page sees its own.
	e.member(admin, "val", "val-password", "viewer")
	val := e.login("val", "val-password")
	for _, slug := range []string{"team", "pw", "open"} {
		if code, _ := e.page("GET", "/d/acme/"+slug+"/qr", val, ""); code != 200 {
			t.Errorf("%s's QR to a member: %d", slug, code)
		}
	}
	resp, _ := postForm(t, e.ts.URL+"/d/acme/pw", url.Values{"password": {"shared-pw"}})
	if resp, _ := get(t, e.ts.URL+"/d/acme/pw/qr", nil, resp.Cookies()...); resp.StatusCode != 200 {
		t.Errorf("the unlocked password page's QR: %d", resp.StatusCode)
	}
}

// The install flow matrix, from the handlers: each device and package
// gets the right primary action.
func TestInstallFlows(t *testing.T) {
	e := newProxiedEnv(t)
	admin := e.adminToken()
	link := func(b buildResp, fileIndex int) string {
		var l struct{ InstallURL string }
		e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[fileIndex].FileID+"/public-link", admin, `{}`, &l)
		return l.InstallURL
	}
	ipa := e.upload(admin, part{"file", "Demo.ipa", demoIPA()})
	apk := e.upload(admin, part{"file", "app.apk", helloAPK(t)})
	aab := e.upload(admin, part{"file", "App.aab", string(pkgtest.AAB())})
	aabWithAPK := e.upload(admin, part{"file", "App.aab", string(pkgtest.AAB())}, part{"file", "universal.apk", helloAPK(t)})
	for _, b := range []buildResp{ipa, apk, aab, aabWithAPK} {
		e.waitProcessed(b.BuildID)
	}
	ipaPage, apkPage, aabPage, aabAPKPage := link(ipa, 0), link(apk, 0), link(aab, 0), link(aabWithAPK, 0)
	over := func(ua string, https bool) http.Header {
		if https {
			return overHTTPS(ua)
		}
		return http.Header{"User-Agent": {ua}}
	}
	primary := func(page string, h http.Header) (id, notice string) {
		resp, body := get(t, page, h)
		wantCode(t, resp, body, 200)
		if m := regexp.MustCompile(`class="button primary" id="([^"]+)"`).FindSubmatch(body); m != nil {
			id = string(m[1])
		}
		if m := regexp.MustCompile(`(?s)id="notice">([^<]*)`).FindSubmatch(body); m != nil {
			notice = string(m[1])
		}
		return id, notice
	}
	cases := []struct {
		name, page string
		header     http.Header
		primary    string // "" for none
		notice     string // part of the notice, "" for none
	}{
		{"iPhone over HTTPS", ipaPage, over(iPhoneUA, true), "install", ""},
		{"iPhone over HTTP", ipaPage, over(iPhoneUA, false), "", "plain HTTP"},
		{"Android on an IPA", ipaPage, over(androidUA, true), "", "for iPhone"},
		{"desktop on an IPA", ipaPage, over(desktopUA, false), "download", ""},
		{"Android on an APK", apkPage, over(androidUA, false), "download", ""},
		{"iPhone on an APK", apkPage, over(iPhoneUA, true), "", "for Android"},
		{"desktop on an APK", apkPage, over(desktopUA, false), "download", ""},
		{"Android on an AAB", aabPage, over(androidUA, false), "", "cannot install an .aab"},
		{"Android on an AAB with an APK", aabAPKPage, over(androidUA, false), "download-apk", "APK attached"},
		{"desktop on an AAB", aabPage, over(desktopUA, false), "", "cannot install an .aab"},
	}
	for _, c := range cases {
		id, notice := primary(c.page, c.header)
		if id != c.primary || (c.notice == "") != (notice == "") || !strings.Contains(notice, c.notice) {
			t.Errorf("%s: primary %q, notice %q; want %q, %q", c.name, id, notice, c.primary, c.notice)
		}
	}
	// The APK beside the AAB downloads through the link, counted.
	resp, body := do(t, "GET", aabAPKPage+"/apk", nil)
	wantCode(t, resp, body, 200)
	if string(body) != helloAPK(t) {
		t.Fatal("the attached APK: other bytes")
	}
	// An expired profile, and one not yet valid: no Install, the reason.
	e.advance(pkgtest.ProfileExpires.Sub(e.clock()) + time.Hour)
	if id, notice := primary(ipaPage, overHTTPS(iPhoneUA)); id != "" || !strings.Contains(notice, "expired on 1 Mar 2027") {
		t.Errorf("expired profile: %q %q", id, notice)
	}
	e.advance(pkgtest.ProfileCreated.Sub(e.clock()) - time.Hour)
	if id, notice := primary(ipaPage, overHTTPS(iPhoneUA)); id != "" || !strings.Contains(notice, "not valid before") {
		t.Errorf("profile not yet valid: %q %q", id, notice)
	}
}

// The version line and title read as people write them.
func TestTesterPageVersionLine(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "notes.zip", "zip"})
	e.store.UpdateBuild(b.BuildID, func(b *store.Build) error { b.VersionName, b.VersionCode = "", ""; return nil })
	var l struct{ InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &l)
	for _, c := range []struct{ name, code, want string }{
		{"", "", ""}, {"1.0", "1.0", "Version 1.0"}, {"1.0", "", "Version 1.0"}, {"", "7", "Build 7"}, {"2.0", "20", "Version 2.0 (20)"},
	} {
		e.store.UpdateBuild(b.BuildID, func(b *store.Build) error { b.VersionName, b.VersionCode = c.name, c.code; return nil })
		resp, body := get(t, l.InstallURL, nil)
		wantCode(t, resp, body, 200)
		m := regexp.MustCompile(`id="version">([^<]*)<`).FindSubmatch(body)
		switch {
		case c.want == "" && m != nil, c.want != "" && (m == nil || string(m[1]) != c.want):
			t.Errorf("%q (%q): version line %q, want %q", c.name, c.code, m, c.want)
		}
		if !strings.Contains(string(body), `<h1 id="app">notes.zip</h1>`) || strings.Contains(string(body), "unversioned") {
			t.Errorf("title: %s", body)
		}
	}
	_ = json.Marshal
}

// A distribution serves what its page offers, no more: the package of the
// build it shows (and of its history when it shows one), not attachments
// and not older builds its filter still matches.
func TestDistributionServesOnlyItsPage(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	old := e.upload(admin, part{"version", "", "1.0"}, part{"file", "old.apk", helloAPK(t)})
	e.waitProcessed(old.BuildID)
	e.advance(time.Minute)
	cur := e.upload(admin, part{"version", "", "2.0"}, part{"file", "new.apk", helloAPK(t)}, part{"file", "secrets.txt", "internal notes"})
	e.waitProcessed(cur.BuildID)
	d := e.distribution(admin, `{"slug":"beta"}`)
	status := func(f struct {
		FileID, Name, Path, FileExtension, Type, Checksum, CreatedAt string
		Size                                                         int64
	}) int {
		req, _ := http.NewRequest("GET", d.URL+"/f/"+f.FileID+"/"+f.Name, nil)
		resp, _ := sendNoRedirect(t, req)
		return resp.StatusCode
	}
	if got := status(cur.Files[0]); got != http.StatusFound {
		t.Fatalf("the shown build's package: %d", got)
	}
	if got := status(cur.Files[1]); got != http.StatusNotFound {
		t.Errorf("an attachment of the shown build: %d, want 404", got)
	}
	if got := status(old.Files[0]); got != http.StatusNotFound {
		t.Errorf("an older build the page does not list: %d, want 404", got)
	}
	e.mustReq(http.StatusOK, "PATCH", projPath+"/distribution/"+d.ID, admin, `{"showHistory":true}`, nil)
	if got := status(old.Files[0]); got != http.StatusFound {
		t.Errorf("an older build in the page's history: %d, want 302", got)
	}
	if got := status(cur.Files[1]); got != http.StatusNotFound {
		t.Errorf("an attachment with history on: %d, want 404", got)
	}
}

// A package without an icon still gets both images Apple's deployment
// reference requires in a manifest: a generated placeholder (the app's
// initial on a square) at 57 and 512 pixels.
func TestManifestPlaceholderIcon(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "bare.ipa", string(pkgtest.IPAWithInfoPlist(pkgtest.InfoPlist("com.example.bare")))})
	e.waitProcessed(b.BuildID)
	var link struct{ PublicLinkID string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &link)
	resp, body := get(t, e.ts.URL+"/p/"+link.PublicLinkID+"/manifest.plist", nil)
	wantCode(t, resp, body, 200)
	var manifest struct {
		Items []struct {
			Assets []map[string]string `plist:"assets"`
		} `plist:"items"`
	}
	if _, err := plistlib.Unmarshal(body, &manifest); err != nil || len(manifest.Items) != 1 {
		t.Fatalf("manifest: %v %s", err, body)
	}
	urls := map[string]string{}
	for _, a := range manifest.Items[0].Assets {
		urls[a["kind"]] = a["url"]
	}
	for kind, size := range map[string]int{"display-image": 57, "full-size-image": 512} {
		resp, img := get(t, urls[kind], nil)
		wantCode(t, resp, img, 200)
		cfg, format, err := image.DecodeConfig(bytes.NewReader(img))
		if err != nil || format != "png" || cfg.Width != size || cfg.Height != size || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("%s at %s: %v %s %dx%d", kind, urls[kind], err, format, cfg.Width, cfg.Height)
		}
	}
	if !strings.HasSuffix(urls["display-image"], "/icon/B/57.png") {
		t.Errorf("display-image %q: not the initial of the app's title", urls["display-image"])
	}
	// Only the glyphs and sizes it draws.
	for _, bad := range []string{"/icon/B/58.png", "/icon/b/57.png", "/icon/BB/57.png", "/icon/%C3%A9/57.png"} {
		if resp, _ := get(t, e.ts.URL+bad, nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", bad, resp.StatusCode)
		}
	}
}
