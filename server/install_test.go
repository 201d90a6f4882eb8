package server_test

import (
	"encoding/xml"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// plistDict flattens the manifest's first item: keys to string values.
func parseManifest(t *testing.T, body []byte) map[string]string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	out := map[string]string{}
	var key string
	var inKey, inString bool
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case xml.StartElement:
			inKey, inString = v.Name.Local == "key", v.Name.Local == "string"
		case xml.EndElement:
			inKey, inString = false, false
		case xml.CharData:
			if inKey {
				key = string(v)
			} else if inString {
				out[key] = string(v)
			}
		}
	}
	if !strings.Contains(string(body), `<plist version="1.0">`) || len(out) == 0 {
		t.Fatalf("not a plist: %s", body)
	}
	return out
}

func TestInstallPage(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"version", "", "2.3.1"}, part{"buildNumber", "", "417"},
		part{"notes", "", "Fixes login\n<script>alert(1)</script>"}, part{"file", "My App.ipa", "ipa bytes"})
	var link struct{ PublicLinkID, PublicURL, InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{"downloadLimit": 3}`, &link)
	if link.InstallURL != e.ts.URL+"/p/"+link.PublicLinkID {
		t.Fatalf("installUrl: %q", link.InstallURL)
	}

	resp, body := do(t, "GET", link.InstallURL, nil)
	wantCode(t, resp, body, 200)
	page := string(body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("headers: %v", resp.Header)
	}
	for _, want := range []string{`<h1 id="app">App</h1>`, "Version 2.3.1 (417)", "My App.ipa", "9 bytes", "Downloads left</dt><dd>3",
		`href="` + html.EscapeString(link.PublicURL) + `"`, "/api/v1/public/file/" + link.PublicLinkID + "/qr"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
		t.Fatal("release notes not escaped")
	}
	// No external asset: every absolute URL on the page is Hangar's own.
	for _, m := range regexp.MustCompile(`(?:src|href)="(https?://[^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], e.ts.URL+"/") {
			t.Errorf("external URL %s", m[1])
		}
	}

	// The Download button is the public link: it counts, and gives the bytes.
	resp, got := do(t, "GET", link.PublicURL, nil)
	wantCode(t, resp, got, 200)
	if string(got) != "ipa bytes" {
		t.Fatalf("download: %q", got)
	}

	// Install: itms-services with a signed manifest URL.
	m := regexp.MustCompile(`href="(itms-services://[^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no Install button for an IPA")
	}
	itms, _ := url.Parse(html.UnescapeString(m[1]))
	if itms.Query().Get("action") != "download-manifest" {
		t.Fatalf("itms URL: %s", itms)
	}
	manifestURL := itms.Query().Get("url")
	resp, body = do(t, "GET", manifestURL, nil)
	wantCode(t, resp, body, 200)
	plist := parseManifest(t, body)
	if plist["url"] != link.PublicURL || plist["kind"] != "software" || plist["bundle-version"] != "2.3.1" || plist["title"] != "App" {
		t.Fatalf("manifest: %v", plist)
	}
	resp, body = do(t, "GET", strings.Replace(manifestURL, "sig=", "sig=A", 1), nil)
	wantCode(t, resp, body, 403)
	resp, body = do(t, "GET", e.ts.URL+"/p/"+link.PublicLinkID+"/manifest.plist", nil)
	wantCode(t, resp, body, 403)

	// An APK has no Install button.
	b2 := e.upload(admin, part{"file", "app.apk", "apk"})
	var l2 struct{ InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b2.Files[0].FileID+"/public-link", admin, `{}`, &l2)
	resp, body = do(t, "GET", l2.InstallURL, nil)
	wantCode(t, resp, body, 200)
	if strings.Contains(string(body), "itms-services") || !strings.Contains(string(body), `id="download"`) {
		t.Fatal("APK page: Install shown or Download missing")
	}
}

func TestInstallPageUnavailable(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "app.ipa", "x"})
	var link struct{ PublicLinkID, PublicURL, InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{"downloadLimit": 1}`, &link)
	do(t, "GET", link.PublicURL, nil) // uses it up

	resp, body := do(t, "GET", link.InstallURL, nil)
	wantCode(t, resp, body, http.StatusForbidden)
	if !strings.Contains(string(body), "Download limit reached") {
		t.Fatalf("exhausted link page: %s", body)
	}
	// The QR code of an exhausted link is still served (the code is right;
	// the download answers DOWNLOAD_LIMIT_REACHED).
	resp, body = do(t, "GET", e.ts.URL+"/api/v1/public/file/"+link.PublicLinkID+"/qr", nil)
	wantCode(t, resp, body, http.StatusOK)
	resp, body = do(t, "GET", e.ts.URL+"/p/nope", nil)
	wantCode(t, resp, body, http.StatusNotFound)
	if !strings.Contains(string(body), "Link not available") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("unknown link page: %s", body)
	}
	e.mustReq(204, "DELETE", projPath+"/build/files/"+b.Files[0].FileID+"/public-links/"+link.PublicLinkID, admin, "", nil)
	resp, body = do(t, "GET", link.InstallURL, nil)
	wantCode(t, resp, body, http.StatusNotFound)
}
