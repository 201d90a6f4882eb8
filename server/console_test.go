package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"hangar/store"
)

func TestConsoleSignInAndPages(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "rita", "rita-password", "viewer")
	b := e.upload(admin, part{"version", "", "3.1"}, part{"buildNumber", "", "310"}, part{"notes", "", "Faster start"},
		part{"file", "App.zip", "zip bytes"})

	// Signed out: every page sends to the sign-in page, and back after.
	code, _, h := e.getPage("/w/acme/p/app", nil)
	if code != http.StatusSeeOther || h.Get("Location") != "/signin?next=%2Fw%2Facme%2Fp%2Fapp" {
		t.Fatalf("signed out: %d, Location %q", code, h.Get("Location"))
	}
	code, body, h := e.getPage("/signin", nil)
	if code != 200 || !strings.Contains(body, `<label for="password">`) || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") ||
		!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("Referrer-Policy") != "same-origin" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("sign-in page: %d %v", code, h)
	}
	// A bearer token is no way into a page.
	r, _ := http.NewRequest("GET", e.ts.URL+"/", nil)
	r.Header.Set("Authorization", "Bearer "+admin)
	if resp, _ := noRedirect.Do(r); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bearer on a page: %d", resp.StatusCode)
	}

	// Wrong password: the form again with a message; from another site,
	// or with no origin at all: 403.
	form := url.Values{"username": {"rita"}, "password": {"nope"}}
	if resp := e.postForm("/signin", nil, form, "same-origin"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	form.Set("password", "rita-password")
	for _, site := range []string{"cross-site", ""} {
		if resp := e.postForm("/signin", nil, form, site); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("sign-in form from %q: %d", site, resp.StatusCode)
		}
	}
	// A next address off this site is not followed.
	form.Set("next", "//evil.example/x")
	resp := e.postForm("/signin", nil, form, "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("next off site: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie := e.signIn("rita", "rita-password")
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
		t.Fatalf("session cookie: %+v", cookie)
	}

	// The pages, as a viewer.
	code, body, _ = e.getPage("/", cookie)
	if code != 200 || !strings.Contains(body, `href="/w/acme"`) || !strings.Contains(body, "rita") {
		t.Fatalf("home: %d\n%s", code, body)
	}
	code, body, _ = e.getPage("/w/acme/p/app", cookie)
	if code != 200 || !strings.Contains(body, `/w/acme/p/app/b/`+b.BuildID) || !strings.Contains(body, "3.1") || !strings.Contains(body, "(310)") {
		t.Fatalf("project: %d\n%s", code, body)
	}
	code, body, _ = e.getPage("/w/acme/p/app/b/"+b.BuildID, cookie)
	if code != 200 || !strings.Contains(body, "App.zip") || !strings.Contains(body, "Faster start") {
		t.Fatalf("build: %d\n%s", code, body)
	}
	// Its download is a signed URL that serves the file.
	dl := regexp.MustCompile(`href="([^"]*/dl/[^"]+)" download`).FindStringSubmatch(body)
	if dl == nil {
		t.Fatalf("no download link:\n%s", body)
	}
	// Page URLs are relative: images and downloads come from whatever host
	// the browser reached, which the CSP ('self') allows.
	if !strings.HasPrefix(dl[1], "/dl/") {
		t.Fatalf("download link %q is not relative", dl[1])
	}
	got, err := http.Get(e.ts.URL + strings.ReplaceAll(dl[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	content, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(content) != "zip bytes" {
		t.Fatalf("download: %d %q", got.StatusCode, content)
	}
	// Another workspace's project, a missing build: 404 pages.
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace", admin, `{"slug":"rival"}`, nil)
	for _, path := range []string{"/w/rival", "/w/acme/p/app/b/nosuchbuild", "/w/acme/p/nosuch"} {
		if code, _, _ := e.getPage(path, cookie); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}

	// Signing out needs the session's CSRF token and this origin.
	_, body, _ = e.getPage("/", cookie)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	if resp := e.postForm("/signout", cookie, url.Values{}, "same-origin"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign out without the token: %d", resp.StatusCode)
	}
	if resp := e.postForm("/signout", cookie, url.Values{"csrf": {m[1] + "x"}}, "same-origin"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign out with a wrong token: %d", resp.StatusCode)
	}
	if resp := e.postForm("/signout", cookie, url.Values{"csrf": {m[1]}}, "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign out from another site: %d", resp.StatusCode)
	}
	if resp := e.postForm("/signout", cookie, url.Values{"csrf": {m[1]}}, "same-origin"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if code, _, _ := e.getPage("/", cookie); code != http.StatusSeeOther {
		t.Fatalf("after sign-out the old cookie still works: %d", code)
	}
	// Another session's token does not fit this one.
	other := e.signIn("rita", "rita-password")
	if resp := e.postForm("/signout", other, url.Values{"csrf": {m[1]}}, "same-origin"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another session's token: %d", resp.StatusCode)
	}
}

// A project page shows a page of builds and links to the next by cursor.
func TestConsoleProjectPaging(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	for i := range 30 {
		e.mustReq(http.StatusCreated, "POST", projPath+"/build", admin, fmt.Sprintf(`{"version":"v%d"}`, i), nil)
	}
	cookie := e.signIn("root", "root-password")
	seen := map[string]bool{}
	path := "/w/acme/p/app"
	builds := regexp.MustCompile(`/w/acme/p/app/b/([A-Za-z0-9_-]+)`)
	older := regexp.MustCompile(`href="([^"]+)">Older builds`)
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		code, body, _ := e.getPage(path, cookie)
		if code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		for _, m := range builds.FindAllStringSubmatch(body, -1) {
			seen[m[1]] = true
		}
		path = ""
		if m := older.FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(seen) != 31 { // the environment's build and the 30
		t.Fatalf("pages showed %d builds, want 31", len(seen))
	}
}

// The build page's forms: a viewer is offered none of them (and a post is
// refused by the route anyway); a developer creates a link, sees its log,
// deactivates it, and deletes the build after a confirmation. Bad input
// shows the page again with the reason and stores nothing.
func TestConsoleBuildForms(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	for _, u := range []struct{ name, role string }{{"vic", "viewer"}, {"dev", "developer"}} {
		e.newUser(admin, fmt.Sprintf(`{"username":%q,"password":"long-password"}`, u.name))
		e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, fmt.Sprintf(`{"username":%q,"role":%q}`, u.name, u.role), nil)
	}
	b := e.upload(admin, part{"version", "", "5.0"}, part{"file", "App.zip", "zip bytes"})
	fileID := b.Files[0].FileID
	page := "/w/acme/p/app/b/" + b.BuildID
	csrfOf := func(body string) string {
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token:\n%s", body)
		}
		return m[1]
	}
	links := func() int {
		var out []struct{ PublicLinkID string }
		e.mustReq(http.StatusOK, "GET", projPath+"/build/"+b.BuildID+"/public-links", admin, "", &out)
		return len(out)
	}

	viewer := e.signIn("vic", "long-password")
	_, body, _ := e.getPage(page, viewer)
	for _, control := range []string{"Create link", "Deactivate", "Delete this build"} {
		if strings.Contains(body, control) {
			t.Errorf("a viewer is offered %q", control)
		}
	}
	if resp := e.postForm(page+"/link", viewer, url.Values{"csrf": {csrfOf(body)}, "file": {fileID}}, "same-origin"); resp.StatusCode != http.StatusForbidden || links() != 0 {
		t.Fatalf("a viewer's link form: %d, %d links", resp.StatusCode, links())
	}

	dev := e.signIn("dev", "long-password")
	_, body, _ = e.getPage(page, dev)
	token := csrfOf(body)
	for _, bad := range []url.Values{
		{"file": {fileID}, "limit": {"-3"}},
		{"file": {fileID}, "limit": {"lots"}},
		{"file": {fileID}, "expires": {"2001-01-01"}},
		{"file": {"not-a-file"}},
	} {
		bad.Set("csrf", token)
		resp, msg := e.submit(page+"/link", dev, "application/x-www-form-urlencoded", bad.Encode(), "same-origin")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg, `class="error"`) || links() != 0 {
			t.Fatalf("bad link form %v: %d, %d links\n%s", bad, resp.StatusCode, links(), msg)
		}
	}
	resp := e.postForm(page+"/link", dev, url.Values{"csrf": {token}, "file": {fileID}, "limit": {"5"}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther || links() != 1 {
		t.Fatalf("link form: %d, %d links", resp.StatusCode, links())
	}
	var made []struct {
		PublicLinkID  string
		DownloadLimit int64
		PublicURL     string
	}
	e.mustReq(http.StatusOK, "GET", projPath+"/build/"+b.BuildID+"/public-links", admin, "", &made)
	if made[0].DownloadLimit != 5 {
		t.Fatalf("link: %+v", made[0])
	}
	// A download through it shows in its log.
	req, _ := http.NewRequest("GET", made[0].PublicURL, nil)
	req.Header.Set("User-Agent", "TesterPhone/1.0")
	if got, err := http.DefaultClient.Do(req); err != nil || got.StatusCode != 200 {
		t.Fatalf("download through the link: %v %v", got, err)
	}
	_, body, _ = e.getPage(page+"/link/"+made[0].PublicLinkID, dev)
	if !strings.Contains(body, "TesterPhone/1.0") || !strings.Contains(body, "1 of 5 downloads") || !strings.Contains(body, "/qr") {
		t.Fatalf("link page:\n%s", body)
	}
	if resp := e.postForm(page+"/link/"+made[0].PublicLinkID+"/deactivate", dev, url.Values{"csrf": {token}}, "same-origin"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", resp.StatusCode)
	}
	if code, _ := e.req("GET", strings.TrimPrefix(made[0].PublicURL, e.ts.URL), "", ""); code != http.StatusNotFound {
		t.Fatalf("a deactivated link still answers %d", code)
	}

	// Deleting: a confirmation page, then the build is gone.
	if code, body, _ := e.getPage(page+"/delete", dev); code != 200 || !strings.Contains(body, "Delete the build") {
		t.Fatalf("confirmation: %d", code)
	}
	if resp := e.postForm(page+"/delete", dev, url.Values{"csrf": {token}}, "same-origin"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/w/acme/p/app" {
		t.Fatalf("delete: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	e.mustReq(http.StatusNotFound, "GET", projPath+"/build/"+b.BuildID, admin, "", nil)
}

// The console's upload streams like the API's: a form whose CSRF token is
// missing, wrong or comes after the file stores nothing; an empty
// attachments input is no file; the workspace quota gives a clear page.
func TestConsoleUpload(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "dev", "long-password", "developer")
	dev := e.signIn("dev", "long-password")
	_, body, _ := e.getPage("/w/acme/p/app/upload", dev)
	token := csrfField.FindStringSubmatch(body)[1]
	count := func() int {
		var out []struct{ BuildID string }
		e.mustReq(http.StatusOK, "GET", projPath+"/build?limit=200", admin, "", &out)
		return len(out)
	}
	before := count()
	part := func(name, file, content string) string {
		if file != "" {
			return "--b\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + file + "\"\r\n\r\n" + content + "\r\n"
		}
		return "--b\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + content + "\r\n"
	}
	post := func(form string) (int, string, string) {
		resp, body := e.submit("/w/acme/p/app/upload", dev, "multipart/form-data; boundary=b", form+"--b--\r\n", "same-origin")
		return resp.StatusCode, resp.Header.Get("Location"), body
	}
	for name, form := range map[string]string{
		"no token":          part("file", "a.zip", "forged"),
		"wrong token":       part("csrf", "", token+"x") + part("file", "a.zip", "forged"),
		"token after files": part("file", "a.zip", "forged") + part("csrf", "", token),
	} {
		if code, _, _ := post(form); code != http.StatusForbidden || count() != before {
			t.Fatalf("%s: %d, %d builds (before %d)", name, code, count(), before)
		}
	}
	code, loc, _ := post(part("csrf", "", token) + part("version", "", "7.0") + part("notes", "", "") +
		part("file", "App.zip", "zip bytes") + part("file", "", ""))
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/w/acme/p/app/b/") || count() != before+1 {
		t.Fatalf("upload: %d %q", code, loc)
	}
	var b struct {
		Version string
		Files   []struct{ Name string }
	}
	e.mustReq(http.StatusOK, "GET", projPath+"/build/"+loc[strings.LastIndex(loc, "/")+1:], admin, "", &b)
	if b.Version != "7.0" || len(b.Files) != 1 || b.Files[0].Name != "App.zip" {
		t.Fatalf("uploaded build: %+v", b)
	}
	// No package: a clear message. Over the quota: 507 with the reason.
	if code, _, page := post(part("csrf", "", token) + part("file", "", "")); code != http.StatusBadRequest || !strings.Contains(page, "choose a package") {
		t.Fatalf("no package: %d\n%s", code, page)
	}
	e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme", admin, `{"storageQuota": 20}`, nil)
	if code, _, page := post(part("csrf", "", token) + part("file", "Big.zip", strings.Repeat("x", 100))); code != http.StatusInsufficientStorage || !strings.Contains(page, "quota") || count() != before+1 {
		t.Fatalf("over quota: %d, %d builds\n%s", code, count(), page)
	}
}

// Changing one's own password: the current one is required, the new one
// checked as the API checks it; afterwards the old sessions are gone and
// this browser holds a new one.
func TestConsolePasswordChange(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"pat","password":"old-password"}`)
	cookie := e.signIn("pat", "old-password")
	other := e.signIn("pat", "old-password")
	_, body, _ := e.getPage("/account", cookie)
	token := csrfField.FindStringSubmatch(body)[1]
	for _, bad := range []url.Values{
		{"current": {"wrong-password"}, "password": {"new-password"}, "confirm": {"new-password"}},
		{"current": {"old-password"}, "password": {"new-password"}, "confirm": {"new-passwordx"}},
		{"current": {"old-password"}, "password": {"short"}, "confirm": {"short"}},
	} {
		bad.Set("csrf", token)
		if resp := e.postForm("/account/password", cookie, bad, "same-origin"); resp.StatusCode/100 != 4 {
			t.Fatalf("%v: %d", bad, resp.StatusCode)
		}
	}
	e.login("pat", "old-password") // unchanged so far
	resp := e.postForm("/account/password", cookie, url.Values{"csrf": {token}, "current": {"old-password"}, "password": {"new-password"}, "confirm": {"new-password"}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?changed=1" {
		t.Fatalf("change: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var fresh *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "hangar_session" {
			fresh = c
		}
	}
	for name, c := range map[string]*http.Cookie{"this browser's old session": cookie, "another session": other} {
		if code, _, _ := e.getPage("/", c); code != http.StatusSeeOther {
			t.Errorf("%s still works: %d", name, code)
		}
	}
	if code, body, _ := e.getPage("/account?changed=1", fresh); fresh == nil || code != 200 || !strings.Contains(body, "was changed") {
		t.Fatalf("this browser after the change: %d", code)
	}
	e.login("pat", "new-password")
}

// An instance admin creates a workspace and a workspace admin a project
// from the console; a bad or taken slug shows the form again with the
// reason and creates nothing; others are not offered the forms.
func TestConsoleCreateWorkspaceAndProject(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	e.member(admin, "vic", "vic-password", "viewer")
	root := e.signIn("root", "root-password")
	_, body, _ := e.getPage("/", root)
	token := csrfField.FindStringSubmatch(body)[1]
	workspaces := func() int {
		var out []struct{ Slug string }
		e.mustReq(http.StatusOK, "GET", "/api/v1/workspace", admin, "", &out)
		return len(out)
	}
	before := workspaces()
	for _, bad := range []url.Values{{"slug": {"Not A Slug"}}, {"slug": {"acme"}}, {"slug": {"fine"}, "quota": {"-1"}}, {"slug": {"fine"}, "quota": {"lots"}}} {
		bad.Set("csrf", token)
		if resp := e.postForm("/workspace", root, bad, "same-origin"); resp.StatusCode != http.StatusBadRequest || workspaces() != before {
			t.Fatalf("%v: %d, %d workspaces", bad, resp.StatusCode, workspaces())
		}
	}
	resp := e.postForm("/workspace", root, url.Values{"csrf": {token}, "slug": {"mobile"}, "name": {"Mobile team"}, "quota": {"1.5"}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/w/mobile" {
		t.Fatalf("new workspace: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ws struct{ StorageQuota int64 }
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/mobile", admin, "", &ws)
	if ws.StorageQuota != 1_500_000_000 {
		t.Fatalf("quota: %d", ws.StorageQuota)
	}
	if resp := e.postForm("/w/mobile/project", root, url.Values{"csrf": {token}, "slug": {"bad slug"}}, "same-origin"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad project slug: %d", resp.StatusCode)
	}
	resp = e.postForm("/w/mobile/project", root, url.Values{"csrf": {token}, "slug": {"ios-app"}, "name": {"iOS app"}, "platform": {"ios"}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/w/mobile/p/ios-app" {
		t.Fatalf("new project: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, body, _ := e.getPage("/w/mobile/p/ios-app", root); code != 200 || !strings.Contains(body, "Upload a build") {
		t.Fatalf("the new project's page: %d", code)
	}
	// The quota of an existing workspace.
	if resp := e.postForm("/w/mobile/quota", root, url.Values{"csrf": {token}, "quota": {"-2"}}, "same-origin"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("negative quota: %d", resp.StatusCode)
	}
	if resp := e.postForm("/w/mobile/quota", root, url.Values{"csrf": {token}, "quota": {"2"}}, "same-origin"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("quota: %d", resp.StatusCode)
	}
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/mobile", admin, "", &ws)
	if ws.StorageQuota != 2_000_000_000 {
		t.Fatalf("quota after the form: %d", ws.StorageQuota)
	}
	vic := e.signIn("vic", "vic-password")
	for _, path := range []string{"/", "/w/acme"} {
		if _, body, _ := e.getPage(path, vic); strings.Contains(body, "<h2>New") || strings.Contains(body, "Save quota") {
			t.Errorf("a viewer is offered a creation form on %s", path)
		}
	}
}

// A project's settings: retention set and returned to the default, an app
// token created (shown once, and it uploads), listed with its last use,
// and revoked.
func TestConsoleProjectSettings(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "wade", "wade-password", "admin")
	wade := e.signIn("wade", "wade-password")
	base := "/w/acme/p/app/settings"
	code, body, _ := e.getPage(base, wade)
	if code != 200 {
		t.Fatalf("settings: %d", code)
	}
	token := csrfField.FindStringSubmatch(body)[1]
	retention := func() any {
		var p struct{ Retention any }
		e.mustReq(http.StatusOK, "GET", projPath, admin, "", &p)
		return p.Retention
	}
	if resp := e.postForm(base+"/retention", wade, url.Values{"csrf": {token}, "keep": {"-1"}}, "same-origin"); resp.StatusCode != http.StatusBadRequest || retention() != nil {
		t.Fatalf("bad retention: %d, %v", resp.StatusCode, retention())
	}
	if resp := e.postForm(base+"/retention", wade, url.Values{"csrf": {token}, "keep": {"10"}, "days": {"30"}}, "same-origin"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retention: %d", resp.StatusCode)
	}
	if got := fmt.Sprint(retention()); !strings.Contains(got, "10") || !strings.Contains(got, "2.592e+06") {
		t.Fatalf("retention stored: %s", got)
	}
	e.postForm(base+"/retention", wade, url.Values{"csrf": {token}, "default": {"1"}}, "same-origin")
	if retention() != nil {
		t.Fatalf("back to the default: %v", retention())
	}

	form := url.Values{"csrf": {token}, "name": {"release job"}}
	resp, _ := e.submit(base+"/app-token", wade, "application/x-www-form-urlencoded", form.Encode(), "same-origin")
	page, reload := e.followShown(resp, wade)
	m := regexp.MustCompile(`id="newtoken" class="url" readonly value="(hgr_[^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("app token not shown after the redirect:\n%s", page)
	}
	app := string(m[1])
	// A reload neither posts again nor shows the secret.
	if strings.Contains(reload, app) {
		t.Fatal("a reload shows the new token again")
	}
	e.mustReq(http.StatusCreated, "POST", "/v1/integrations/builds", app, "--b\r\nContent-Disposition: form-data; name=\"build\"; filename=\"a.zip\"\r\n\r\nzip\r\n--b--\r\n", nil)
	_, body, _ = e.getPage(base, wade)
	if !strings.Contains(body, "release job") || strings.Contains(body, app) {
		t.Fatalf("the token is not listed, or its secret is shown again:\n%s", body)
	}
	prefix := regexp.MustCompile(`app-token/([^/]+)/revoke`).FindStringSubmatch(body)[1]
	if resp := e.postForm(base+"/app-token/"+prefix+"/revoke", wade, url.Values{"csrf": {token}}, "same-origin"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	e.mustReq(http.StatusUnauthorized, "POST", "/v1/integrations/builds", app, "--b\r\nContent-Disposition: form-data; name=\"build\"; filename=\"a.zip\"\r\n\r\nzip\r\n--b--\r\n", nil)
}

// A workspace admin adds a user with a role, changes it and removes the
// user, from the members page's own forms.
func TestConsoleMembers(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	for _, u := range []string{"wade", "bob"} {
		e.newUser(admin, fmt.Sprintf(`{"username":%q,"password":"long-password"}`, u))
	}
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"wade","role":"admin"}`, nil)
	wade := e.signIn("wade", "long-password")
	_, body, _ := e.getPage("/w/acme/members", wade)
	token := csrfField.FindStringSubmatch(body)[1]
	role := func() string {
		var ms []struct{ Name, Role string }
		e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/member", admin, "", &ms)
		for _, m := range ms {
			if m.Name == "bob" {
				return m.Role
			}
		}
		return ""
	}
	if resp := e.postForm("/w/acme/members", wade, url.Values{"csrf": {token}, "username": {"nobody"}, "role": {"viewer"}}, "same-origin"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown user: %d", resp.StatusCode)
	}
	if resp := e.postForm("/w/acme/members", wade, url.Values{"csrf": {token}, "username": {"bob"}, "role": {"king"}}, "same-origin"); resp.StatusCode != http.StatusBadRequest || role() != "" {
		t.Fatalf("unknown role: %d, %q", resp.StatusCode, role())
	}
	for _, r := range []string{"viewer", "developer"} {
		if resp := e.postForm("/w/acme/members", wade, url.Values{"csrf": {token}, "username": {"bob"}, "role": {r}}, "same-origin"); resp.StatusCode != http.StatusSeeOther || role() != r {
			t.Fatalf("role %s: %d, %q", r, resp.StatusCode, role())
		}
	}
	_, body, _ = e.getPage("/w/acme/members", wade)
	remove := regexp.MustCompile(`href="(/w/acme/members/user/bob/remove)"`).FindStringSubmatch(body)
	if remove == nil {
		t.Fatalf("no remove form for bob:\n%s", body)
	}
	if resp := e.postForm(remove[1], wade, url.Values{"csrf": {token}}, "same-origin"); resp.StatusCode != http.StatusSeeOther || role() != "" {
		t.Fatalf("remove: %d, %q", resp.StatusCode, role())
	}
}

// The project page filters by text and status, and its pages keep the
// filter.
func TestConsoleProjectFilter(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	var hotfixes []string
	for i := range 40 {
		notes := "routine"
		if i%3 == 0 {
			notes = "Hotfix for login"
		}
		var b struct{ BuildID string }
		e.mustReq(http.StatusCreated, "POST", projPath+"/build", admin, fmt.Sprintf(`{"version":"v%d","notes":%q}`, i, notes), &b)
		if i%3 == 0 {
			hotfixes = append(hotfixes, b.BuildID)
		}
	}
	cookie := e.signIn("root", "root-password")
	seen := map[string]bool{}
	builds := regexp.MustCompile(`/w/acme/p/app/b/([A-Za-z0-9_-]+)"`)
	older := regexp.MustCompile(`href="([^"]+)">Older builds`)
	path := "/w/acme/p/app?q=HOTFIX"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		code, body, _ := e.getPage(path, cookie)
		if code != 200 || !strings.Contains(body, `value="HOTFIX"`) {
			t.Fatalf("%s: %d", path, code)
		}
		for _, m := range builds.FindAllStringSubmatch(body, -1) {
			seen[m[1]] = true
		}
		path = ""
		if m := older.FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
			if !strings.Contains(path, "q=HOTFIX") {
				t.Fatalf("the next page forgets the filter: %s", path)
			}
		}
	}
	if len(seen) != len(hotfixes) {
		t.Fatalf("filter showed %d builds, want %d", len(seen), len(hotfixes))
	}
	for _, id := range hotfixes {
		if !seen[id] {
			t.Fatalf("hotfix %s not shown", id)
		}
	}
	if _, body, _ := e.getPage("/w/acme/p/app?status=error", cookie); !strings.Contains(body, "No build matches.") {
		t.Fatal("a status nothing has shows builds")
	}
}

// An instance admin creates a user and gives one a new password from the
// users page: each password is shown once and signs in.
func TestConsoleUsers(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	root := e.signIn("root", "root-password")
	_, body, _ := e.getPage("/users", root)
	token := csrfField.FindStringSubmatch(body)[1]
	secret := regexp.MustCompile(`id="newsecret" class="url" readonly value="([^"]+)"`)
	// post answers the form's status and the page it leads to (followed
	// once after a 303, which must not show a secret on reload).
	post := func(path string, form url.Values) (int, string) {
		form.Set("csrf", token)
		resp, body := e.submit(path, root, "application/x-www-form-urlencoded", form.Encode(), "same-origin")
		if resp.StatusCode != http.StatusSeeOther {
			return resp.StatusCode, body
		}
		page, reload := e.followShown(resp, root)
		if m := secret.FindStringSubmatch(page); m != nil && strings.Contains(reload, m[1]) {
			t.Fatalf("a reload of %s shows the password again", resp.Header.Get("Location"))
		}
		return resp.StatusCode, page
	}
	for _, bad := range []string{"", "no spaces please", "root"} {
		if code, _ := post("/users", url.Values{"username": {bad}}); code != http.StatusBadRequest {
			t.Fatalf("username %q: %d", bad, code)
		}
	}
	code, page := post("/users", url.Values{"username": {"nina"}})
	m := secret.FindStringSubmatch(page)
	if code != http.StatusSeeOther || m == nil {
		t.Fatalf("new user: %d", code)
	}
	e.login("nina", m[1])
	code, page = post("/users/nina/password", url.Values{})
	m2 := secret.FindStringSubmatch(page)
	if code != http.StatusSeeOther || m2 == nil || m2[1] == m[1] {
		t.Fatalf("new password: %d", code)
	}
	if code, _ := e.req("POST", "/api/v1/auth/login", "", fmt.Sprintf(`{"username":"nina","password":%q}`, m[1])); code != http.StatusUnauthorized {
		t.Fatalf("the old password still signs in: %d", code)
	}
	e.login("nina", m2[1])
	if _, body, _ := e.getPage("/users", root); strings.Contains(body, m2[1]) {
		t.Fatal("a password is shown again")
	}
}

// An instance admin sees every token and revokes one; the page cannot
// revoke the session viewing it.
func TestConsoleTokens(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	var app struct{ Token, Prefix string }
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/project/app/app-token", admin, `{"name":"nightly"}`, &app)
	root := e.signIn("root", "root-password")
	_, body, _ := e.getPage("/tokens", root)
	if !strings.Contains(body, "nightly") || !strings.Contains(body, "this session") || strings.Contains(body, app.Token) {
		t.Fatalf("tokens page:\n%s", body)
	}
	token := csrfField.FindStringSubmatch(body)[1]
	if resp := e.postForm("/tokens/"+app.Prefix+"/revoke", root, url.Values{"csrf": {token}}, "same-origin"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	e.mustReq(http.StatusUnauthorized, "POST", "/v1/integrations/builds", app.Token, "--b\r\nContent-Disposition: form-data; name=\"build\"; filename=\"a.zip\"\r\n\r\nzip\r\n--b--\r\n", nil)
}

// A workspace admin creates a service account here (its token shown once,
// and it works with its role), mints another token, and removes it (which
// deletes it, its only workspace); an account that reaches beyond this
// workspace gets no token from a workspace admin.
func TestConsoleServiceAccounts(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "wade", "wade-password", "admin")
	wade := e.signIn("wade", "wade-password")
	_, body, _ := e.getPage("/w/acme/members", wade)
	token := csrfField.FindStringSubmatch(body)[1]
	secret := regexp.MustCompile(`id="newtoken" class="url" readonly value="(hgr_[^"]+)"`)
	if resp := e.postForm("/w/acme/service-accounts", wade, url.Values{"csrf": {token}, "name": {""}, "role": {"ci"}}, "same-origin"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no name: %d", resp.StatusCode)
	}
	resp, _ := e.submit("/w/acme/service-accounts", wade, "application/x-www-form-urlencoded", url.Values{"csrf": {token}, "name": {"jenkins"}, "role": {"ci"}}.Encode(), "same-origin")
	page, reload := e.followShown(resp, wade)
	m := secret.FindStringSubmatch(page)
	if m == nil || strings.Contains(reload, m[1]) {
		t.Fatalf("new service account: the token not shown once (%v)", m)
	}
	e.mustReq(http.StatusCreated, "POST", projPath+"/build", m[1], `{"version":"ci"}`, nil) // ci may upload
	e.mustReq(http.StatusForbidden, "DELETE", projPath+"/build/"+e.build.ID, m[1], "", nil) // not delete
	id := regexp.MustCompile(`/w/acme/service-accounts/([^/]+)/token`).FindStringSubmatch(page)[1]
	resp, _ = e.submit("/w/acme/service-accounts/"+id+"/token", wade, "application/x-www-form-urlencoded", url.Values{"csrf": {token}}.Encode(), "same-origin")
	page, _ = e.followShown(resp, wade)
	if m2 := secret.FindStringSubmatch(page); m2 == nil || m2[1] == m[1] {
		t.Fatalf("new token: %d", resp.StatusCode)
	}
	if resp := e.postForm("/w/acme/service-accounts/"+id+"/remove", wade, url.Values{"csrf": {token}}, "same-origin"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", resp.StatusCode)
	}
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace", m[1], "", nil)

	// An account that is also a member elsewhere is the instance admin's.
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace", admin, `{"slug":"rival"}`, nil)
	_, shared := e.serviceAccount(admin, "rival", "shared", "viewer")
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, fmt.Sprintf(`{"kind":"service-account","id":%q,"role":"viewer"}`, shared), nil)
	if resp := e.postForm("/w/acme/service-accounts/"+shared+"/token", wade, url.Values{"csrf": {token}}, "same-origin"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a token of a shared account: %d", resp.StatusCode)
	}
}

// Attaching files to a build and deleting one from its page: the token is
// checked before a file is stored; a deleted file's links stop working.
func TestConsoleAttachAndDeleteFile(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "dev", "long-password", "developer")
	b := e.upload(admin, part{"file", "App.zip", "zip"})
	dev := e.signIn("dev", "long-password")
	page := "/w/acme/p/app/b/" + b.BuildID
	_, body, _ := e.getPage(page, dev)
	token := csrfField.FindStringSubmatch(body)[1]
	files := func() []struct{ FileID, Name string } {
		var out []struct{ FileID, Name string }
		e.mustReq(http.StatusOK, "GET", projPath+"/build/"+b.BuildID+"/file", admin, "", &out)
		return out
	}
	mp := func(parts ...string) string { return strings.Join(parts, "") + "--b--\r\n" }
	field := func(name, v string) string {
		return "--b\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + v + "\r\n"
	}
	file := func(name, v string) string {
		return "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name + "\"\r\n\r\n" + v + "\r\n"
	}
	ctype := "multipart/form-data; boundary=b"
	if resp, _ := e.submit(page+"/attach", dev, ctype, mp(file("x.txt", "forged"), field("csrf", token)), "same-origin"); resp.StatusCode != http.StatusForbidden || len(files()) != 1 {
		t.Fatalf("file before the token: %d, %d files", resp.StatusCode, len(files()))
	}
	if resp, _ := e.submit(page+"/attach", dev, ctype, mp(field("csrf", token), file("notes.txt", "n"), file("map.txt", "m")), "same-origin"); resp.StatusCode != http.StatusSeeOther || len(files()) != 3 {
		t.Fatalf("attach: %d, %d files", resp.StatusCode, len(files()))
	}
	var notes string
	for _, f := range files() {
		if f.Name == "notes.txt" {
			notes = f.FileID
		}
	}
	var link struct{ PublicURL string }
	e.mustReq(http.StatusCreated, "POST", projPath+"/build/files/"+notes+"/public-link", admin, `{}`, &link)
	if resp := e.postForm(page+"/file/"+notes+"/delete", dev, url.Values{"csrf": {token}}, "same-origin"); resp.StatusCode != http.StatusSeeOther || len(files()) != 2 {
		t.Fatalf("delete file: %d, %d files", resp.StatusCode, len(files()))
	}
	if code, _ := e.req("GET", strings.TrimPrefix(link.PublicURL, e.ts.URL), "", ""); code != http.StatusNotFound {
		t.Fatalf("a deleted file's link answers %d", code)
	}
}

// Over TLS the session cookie takes the __Host- prefix and Secure, which
// browsers enforce (host-only, Path=/, HTTPS only).
func TestConsoleCookieOverTLS(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"tess","password":"tess-password"}`)
	r := httptest.NewRequest("POST", "https://hangar.example/signin", strings.NewReader(url.Values{"username": {"tess"}, "password": {"tess-password"}}.Encode()))
	r.TLS = &tls.ConnectionState{}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("sign-in over TLS: %d, %d cookies", w.Code, len(cookies))
	}
	if c := cookies[0]; c.Name != "__Host-hangar_session" || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie over TLS: %+v", c)
	}
}

// A build page reloads itself while its package is processed, and stops
// once it is done.
func TestConsoleRefreshWhileProcessing(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	b := e.upload(admin, part{"file", "App.zip", "zip"})
	root := e.signIn("root", "root-password")
	page := "/w/acme/p/app/b/" + b.BuildID
	if _, body, _ := e.getPage(page, root); strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatal("a processed build's page reloads itself")
	}
	// As a worker would see it: in progress (not handed to a worker here).
	if _, err := e.store.UpdateBuild(b.BuildID, func(b *store.Build) error { b.Status = store.BuildInProgress; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := e.getPage(page, root); !strings.Contains(body, `<meta http-equiv="refresh" content="3">`) {
		t.Fatal("a build in progress does not reload itself")
	}
	if _, body, _ := e.getPage("/w/acme/p/app", root); !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatal("the project page does not reload while a build is in progress")
	}
	e.store.UpdateBuild(b.BuildID, func(b *store.Build) error { b.Status = store.BuildProcessed; return nil })
}

// Distributions from the console: made with the form (the password
// stored only as a hash), listed, changed, their downloads shown, deleted;
// a refused form shows the reason and keeps what was typed.
func TestConsoleDistributions(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.apk", helloAPK(t)})
	e.waitProcessed(b.BuildID)
	e.member(admin, "dev", "dev-password", "developer")
	session := e.login("dev", "dev-password")
	csrf := e.csrf(session)
	ws, _ := e.store.WorkspaceBySlug("acme")
	code, body := e.page("POST", "/w/acme/p/app/d", session, url.Values{"csrf": {csrf}, "slug": {"Not A Slug"}, "name": {"Testers"},
		"filterType": {"latest"}, "security": {"public"}}.Encode())
	if code != 400 || !strings.Contains(string(body), "slug must be") || !strings.Contains(string(body), `value="Testers"`) {
		t.Fatalf("refused form: %d %s", code, body)
	}
	code, _ = e.page("POST", "/w/acme/p/app/d", session, url.Values{"csrf": {csrf}, "slug": {"testers"}, "filterType": {"latest"},
		"security": {"password"}, "password": {"shared-secret"}, "showHistory": {"1"}}.Encode())
	if code != http.StatusSeeOther {
		t.Fatalf("create: %d", code)
	}
	d, err := e.store.DistributionBySlug(ws.ID, "testers")
	if err != nil || d.Security != store.SecurityPassword || !strings.HasPrefix(d.PasswordHash, "$argon2id$") || !d.ShowHistory {
		t.Fatalf("stored: %+v %v", d, err)
	}
	code, body = e.page("GET", "/w/acme/p/app/d", session, "")
	if code != 200 || !strings.Contains(string(body), e.ts.URL+"/d/acme/testers") || !strings.Contains(string(body), `src="/d/acme/testers/qr"`) {
		t.Fatalf("list: %d %s", code, body)
	}
	// A download through the page shows on its console page.
	unlock, _ := postForm(t, e.ts.URL+"/d/acme/testers", url.Values{"password": {"shared-secret"}})
	_, page := get(t, e.ts.URL+"/d/acme/testers", http.Header{"User-Agent": {androidUA}}, unlock.Cookies()...)
	m := regexp.MustCompile(`id="download" href="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("tester page: %s", page)
	}
	r, _ := http.NewRequest("GET", html.UnescapeString(string(m[1])), nil)
	r.Header.Set("User-Agent", androidUA)
	r.SetBasicAuth("", "shared-secret")
	if resp, err := noRedirect.Do(r); err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("download: %v %v", resp.StatusCode, err)
	}
	code, body = e.page("GET", "/w/acme/p/app/d/testers", session, "")
	if code != 200 || !strings.Contains(string(body), androidUA) || !strings.Contains(string(body), "1 downloads") {
		t.Fatalf("distribution page: %d %s", code, body)
	}
	// Changed to a public tag filter: the password goes.
	code, _ = e.page("POST", "/w/acme/p/app/d/testers", session, url.Values{"csrf": {csrf}, "slug": {"testers"}, "filterType": {"tag"},
		"filterValue": {"qa"}, "security": {"public"}}.Encode())
	if d, _ = e.store.Distribution(d.ID); code != http.StatusSeeOther || d.FilterValue != "qa" || d.PasswordHash != "" || d.ShowHistory {
		t.Fatalf("update: %d %+v", code, d)
	}
	code, _ = e.page("POST", "/w/acme/p/app/d/testers/delete", session, url.Values{"csrf": {csrf}}.Encode())
	if _, err := e.store.Distribution(d.ID); code != http.StatusSeeOther || err == nil {
		t.Fatalf("delete: %d %v", code, err)
	}
}

// Webhooks from the console: made with the form (the secret shown once),
// their delivery log with each attempt, sent again, turned off, deleted.
func TestConsoleWebhooks(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "wanda", "wanda-password", "admin")
	session := e.login("wanda", "wanda-password")
	csrf := e.csrf(session)
	rc := newReceiver(t, e.clock)
	rc.Answer = func(n int) int { return []int{500, 204, 204}[min(n, 2)] }
	code, body := e.page("POST", "/w/acme/p/app/webhooks", session, url.Values{"csrf": {csrf}, "url": {"ftp://nope"}, "events": {"build.created"}, "format": {"json"}}.Encode())
	if code != 400 || !strings.Contains(string(body), "url must be") || !strings.Contains(string(body), `value="ftp://nope"`) {
		t.Fatalf("refused form: %d %s", code, body)
	}
	cookie := &http.Cookie{Name: "hangar_session", Value: session}
	resp, _ := e.submit("/w/acme/p/app/webhooks", cookie, "application/x-www-form-urlencoded", url.Values{"csrf": {csrf}, "url": {rc.URL}, "events": {"build.created", "build.processed"}, "format": {"json"}}.Encode(), "same-origin")
	shown, reload := e.followShown(resp, cookie)
	m := regexp.MustCompile(`id="newsecret" class="url" readonly value="(whsec_[^"]+)"`).FindStringSubmatch(shown)
	if m == nil || strings.Contains(reload, m[1]) {
		t.Fatalf("create: the secret not shown once: %s", shown)
	}
	rc.Secret = string(m[1])
	ws, _ := e.store.WorkspaceBySlug("acme")
	hooks, _ := e.store.Webhooks(ws.ID, "")
	if len(hooks) != 1 || hooks[0].Secret != rc.Secret || len(hooks[0].Events) != 2 {
		t.Fatalf("stored: %+v", hooks)
	}
	if _, body = e.page("GET", "/w/acme/p/app/webhooks", session, ""); strings.Contains(string(body), rc.Secret) {
		t.Fatal("the secret is shown again")
	}
	e.upload(admin, part{"file", "a.zip", "a"})
	d := e.deliverer(5 * time.Second)
	d.RunOnce(context.Background()) // 500
	e.advance(time.Minute)
	d.RunOnce(context.Background()) // 204, 204
	hookPage := "/w/acme/p/app/webhooks/" + hooks[0].ID
	code, body = e.page("GET", hookPage, session, "")
	for _, want := range []string{"build.created", "build.processed", "delivered", " · 500 · ", " · 204 · "} {
		if code != 200 || !strings.Contains(string(body), want) {
			t.Errorf("webhook page lacks %q", want)
		}
	}
	ds, _, _ := e.store.Deliveries(hooks[0].ID, store.Page{})
	code, _ = e.page("POST", hookPage+"/deliveries/"+ds[0].ID+"/redeliver", session, url.Values{"csrf": {csrf}}.Encode())
	d.RunOnce(context.Background())
	if got := rc.events(); code != http.StatusSeeOther || len(got) != 4 || got[3].delivery != ds[0].ID {
		t.Fatalf("send again: %d %+v", code, got)
	}
	code, _ = e.page("POST", hookPage, session, url.Values{"csrf": {csrf}, "url": {rc.URL}, "events": {"build.created"}, "format": {"slack"}}.Encode())
	if w, _ := e.store.Webhook(hooks[0].ID); code != http.StatusSeeOther || w.Active || w.Format != "slack" {
		t.Fatalf("turned off: %d %+v", code, w)
	}
	if _, body = e.page("GET", hookPage, session, ""); !strings.Contains(string(body), `id="disabled"`) {
		t.Error("an off webhook's page does not say so")
	}
	code, _ = e.page("POST", hookPage+"/delete", session, url.Values{"csrf": {csrf}}.Encode())
	if _, err := e.store.Webhook(hooks[0].ID); code != http.StatusSeeOther || err == nil {
		t.Fatalf("delete: %d %v", code, err)
	}
	// The workspace's own webhooks, for every project.
	resp, _ = e.submit("/w/acme/webhooks", cookie, "application/x-www-form-urlencoded", url.Values{"csrf": {csrf}, "url": {"https://chat.example/all"}, "events": {"build.processed"}, "format": {"slack"}}.Encode(), "same-origin")
	shown, _ = e.followShown(resp, cookie)
	wide, _ := e.store.Webhooks(ws.ID, "*")
	if len(wide) != 1 || wide[0].ProjectID != "" || wide[0].Format != "slack" || !strings.Contains(shown, "every project of the workspace") {
		t.Fatalf("workspace webhook: %+v", wide)
	}
	if code, _ = e.page("GET", "/w/acme/p/app/webhooks/"+wide[0].ID, session, ""); code != 404 {
		t.Errorf("a workspace webhook under a project's path: %d", code)
	}
}

// A build page shows its links 50 at a time, with a link to the rest.
func TestConsoleBuildPageLinksPaged(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "rita", "rita-password", "viewer")
	b := e.upload(admin, part{"file", "App.zip", "zip bytes"})
	for range 51 {
		if _, err := e.store.CreateLink(store.PublicLink{FileID: b.Files[0].FileID, IsPermanent: true}); err != nil {
			t.Fatal(err)
		}
	}
	cookie := e.signIn("rita", "rita-password")
	rows := regexp.MustCompile(`class="linkrow"`)
	code, body, _ := e.getPage("/w/acme/p/app/b/"+b.BuildID, cookie)
	more := regexp.MustCompile(`id="more-links" href="([^"]+)"`).FindStringSubmatch(body)
	if code != 200 || len(rows.FindAllString(body, -1)) != 50 || more == nil {
		t.Fatalf("first page: %d, %d links, more %v", code, len(rows.FindAllString(body, -1)), more)
	}
	code, body, _ = e.getPage(strings.ReplaceAll(more[1], "&amp;", "&"), cookie)
	if code != 200 || len(rows.FindAllString(body, -1)) != 1 || strings.Contains(body, `id="more-links"`) {
		t.Fatalf("second page: %d, %d links", code, len(rows.FindAllString(body, -1)))
	}
	if code, _, _ = e.getPage("/w/acme/p/app/b/"+b.BuildID+"?links=nofile%2Fx", cookie); code != http.StatusBadRequest {
		t.Fatalf("a cursor Hangar did not write: %d", code)
	}
}
