package server_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const installerUA = "com.apple.appstored/1.0 iOS/17.5 model/iPhone16,2 hwmodel/D83AP build/21F79 (6; dt:300) AMS/1"

type installRow struct {
	Time, Tester, BuildID, FileID, Kind, ClientIP string
	Device                                        struct{ Platform, Model string }
}

// installOnIPhone installs the build a page shows as an iPhone does: the
// page's Install (with the cookie that opens it), the manifest, and the
// package as iOS's installer takes it.
func installOnIPhone(t *testing.T, e *env, page string, cookie *http.Cookie) {
	t.Helper()
	resp, body := get(t, e.ts.URL+page, overHTTPS(iPhoneUA), cookie)
	wantCode(t, resp, body, 200)
	m := regexp.MustCompile(`id="install" href="(itms-services://[^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no Install on the page: %s", body)
	}
	itms, _ := url.Parse(html.UnescapeString(string(m[1])))
	resp, body = get(t, strings.Replace(itms.Query().Get("url"), "https://", "http://", 1), nil)
	wantCode(t, resp, body, 200)
	pkg := regexp.MustCompile(`<string>(https?://[^<]+/i/[^<]+)</string>`).FindSubmatch(body)
	if pkg == nil {
		t.Fatalf("the manifest's package URL is not the install one: %s", body)
	}
	resp, body = get(t, strings.Replace(html.UnescapeString(string(pkg[1])), "https://", "http://", 1), http.Header{"User-Agent": {installerUA}})
	wantCode(t, resp, body, http.StatusFound)
}

// Who installed what: a tester signed in by link installs on an iPhone
// (iOS's installer fetching the manifest's package is an install, naming
// the model) and downloads on a laptop; a link's anonymous download is
// recorded too; the build's, the distribution's and the tester's lists
// say so, as JSON pages and CSV.
func TestInstallRecords(t *testing.T) {
	e, mp, admin := newTestersEnv(t)
	const page = "/d/acme/beta"
	ana := e.signInTester(mp, page, "ana@example.com")

	installOnIPhone(t, e, page, ana)

	// The laptop: Download.
	_, pageBody, _ := e.getPage(page, ana)
	dl := regexp.MustCompile(`id="download" href="([^"]+)"`).FindStringSubmatch(pageBody)
	resp, body := get(t, html.UnescapeString(dl[1]), http.Header{"User-Agent": {desktopUA}}, ana)
	wantCode(t, resp, body, http.StatusFound)

	var builds []struct {
		BuildID string
		Files   []struct{ FileID string }
	}
	e.mustReq(200, "GET", projPath+"/build", admin, "", &builds)
	b := builds[0]
	var rows []installRow
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID+"/installs", admin, "", &rows)
	if len(rows) != 2 {
		t.Fatalf("build installs: %+v", rows)
	}
	if r := rows[1]; r.Tester != "ana@example.com" || r.Kind != "install" || r.Device.Platform != "ios" || r.Device.Model != "iPhone16,2" || r.ClientIP != "127.0.0.1" {
		t.Errorf("the install: %+v", r)
	}
	if r := rows[0]; r.Tester != "ana@example.com" || r.Kind != "download" || r.Device.Platform != "linux" {
		t.Errorf("the download: %+v", r)
	}
	var byDist, byTester []installRow
	e.mustReq(200, "GET", projPath+"/distribution/beta/installs", admin, "", &byDist)
	e.mustReq(200, "GET", "/api/v1/workspace/acme/tester-installs?tester=Ana@Example.com", admin, "", &byTester)
	if len(byDist) != 2 || len(byTester) != 2 || byTester[1].Kind != "install" {
		t.Errorf("per distribution %+v, per tester %+v", byDist, byTester)
	}

	// Pages: one at a time, with the cursor.
	code, first := e.req("GET", projPath+"/build/"+b.BuildID+"/installs?limit=1", admin, "")
	var one []installRow
	json.Unmarshal(first, &one)
	if code != 200 || len(one) != 1 || one[0].Kind != "download" {
		t.Fatalf("first page: %d %s", code, first)
	}
	r, _ := http.NewRequest("GET", e.ts.URL+projPath+"/build/"+b.BuildID+"/installs?limit=1", nil)
	r.Header.Set("Authorization", "Bearer "+admin)
	resp, _ = sendNoRedirect(t, r)
	cursor := resp.Header.Get("X-Next-Cursor")
	e.mustReq(200, "GET", projPath+"/build/"+b.BuildID+"/installs?limit=1&cursor="+cursor, admin, "", &one)
	if len(one) != 1 || one[0].Kind != "install" {
		t.Fatalf("second page: %+v", one)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "cursor=x", "format=xml"} {
		if code, _ := e.req("GET", projPath+"/build/"+b.BuildID+"/installs?"+bad, admin, ""); code != 400 {
			t.Errorf("?%s: %d", bad, code)
		}
	}
	if code, _ := e.req("GET", "/api/v1/workspace/acme/tester-installs?tester=a%20b", admin, ""); code != 400 {
		t.Errorf("a tester that is neither: %d", code)
	}

	// A link's anonymous download, and CSV.
	var l struct{ PublicLinkID, PublicURL string }
	files := b.Files
	e.mustReq(201, "POST", projPath+"/build/files/"+files[0].FileID+"/public-link", admin, `{}`, &l)
	resp, _ = get(t, l.PublicURL, http.Header{"User-Agent": {"Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A) Chrome/122.0 Mobile Safari/537.36"}})
	wantCode(t, resp, nil, http.StatusFound)
	code, csvBody := e.req("GET", projPath+"/build/"+b.BuildID+"/installs?format=csv", admin, "")
	lines := strings.Split(strings.TrimSpace(string(csvBody)), "\n")
	if code != 200 || len(lines) != 4 || !strings.HasPrefix(lines[0], "time,tester,buildId") || !strings.Contains(lines[1], ",,"+b.BuildID+","+files[0].FileID+",download,android,Pixel 8,") {
		t.Errorf("CSV: %d\n%s", code, csvBody)
	}
}
