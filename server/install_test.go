package server_test

import (
	"bytes"
	"encoding/xml"
	"html"
	"image/png"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"hangar/config"

	plistlib "howett.net/plist"

	"hangar/pkginfo"
	"hangar/pkginfo/pkgtest"
	"hangar/store"
	"hangar/urlsign"
)

// parseManifest flattens the manifest's first item: keys to string values,
// the first of each key (the package asset's url before display-image's).
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
			} else if _, seen := out[key]; inString && !seen {
				out[key] = string(v)
			}
		}
	}
	if !strings.Contains(string(body), `<plist version="1.0">`) || len(out) == 0 {
		t.Fatalf("not a plist: %s", body)
	}
	return out
}

// iPhoneUA and androidUA are real browsers' User-Agent strings.
const (
	iPhoneUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	androidUA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
	desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)

func TestInstallPage(t *testing.T) {
	e := newProxiedEnv(t)
	admin := e.adminToken()
	ipa := demoIPA()
	b := e.upload(admin, part{"version", "", "2.3.1"}, part{"buildNumber", "", "417"},
		part{"notes", "", "Fixes login\n<script>alert(1)</script>"}, part{"file", "My App.ipa", ipa})
	var link struct{ PublicLinkID, PublicURL, InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{"downloadLimit": 3}`, &link)
	if link.InstallURL != e.ts.URL+"/p/"+link.PublicLinkID {
		t.Fatalf("installUrl: %q", link.InstallURL)
	}
	e.waitProcessed(b.BuildID)

	resp, body := do(t, "GET", link.InstallURL, nil)
	wantCode(t, resp, body, 200)
	page := string(body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("headers: %v", resp.Header)
	}
	// The app's name, profile and version come from the package (2.4.1,
	// 241); the version sent with the upload is shown as its label.
	for _, want := range []string{`<h1 id="app">Demo App</h1>`, `Version 2.4.1 (241) <span id="label">· labelled 2.3.1 (417) at upload`, "My App.ipa", "Downloads left</dt><dd>3",
		"com.example.demo", "iOS 15.0 or later", "Ad hoc, 3 devices, expires 1 Mar 2027",
		`href="` + html.EscapeString(link.PublicURL) + `"`, `src="` + link.InstallURL + `/qr"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
		t.Fatal("release notes not escaped")
	}
	if strings.Contains(page, `id="state"`) {
		t.Error("a processed build's page says it is not")
	}
	// No external asset: every absolute URL on the page is Hangar's own.
	for _, m := range regexp.MustCompile(`(?:src|href)="(https?://[^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], e.ts.URL+"/") {
			t.Errorf("external URL %s", m[1])
		}
	}
	// The icon is the build's icon file, through a signed URL.
	iconSrc := regexp.MustCompile(`<img class="icon" id="icon" src="([^"]+)"`).FindStringSubmatch(page)
	if iconSrc == nil {
		t.Fatal("no icon on the page")
	}
	resp, got := do(t, "GET", html.UnescapeString(iconSrc[1]), nil)
	wantCode(t, resp, got, 200)
	if img, err := png.Decode(bytes.NewReader(got)); err != nil || img.Bounds().Dx() != 12 {
		t.Fatalf("icon: %v", err)
	}

	// The Download button is the public link: it counts, and gives the bytes.
	resp, got = do(t, "GET", link.PublicURL, nil)
	wantCode(t, resp, got, 200)
	if string(got) != ipa {
		t.Fatal("download: other bytes than the IPA")
	}

	// Install: itms-services, on an iPhone that reached the page over
	// HTTPS.
	resp, body = do(t, "GET", link.InstallURL, overHTTPS(iPhoneUA))
	wantCode(t, resp, body, 200)
	page = string(body)
	m := regexp.MustCompile(`id="install" href="(itms-services://[^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no Install button for an IPA")
	}
	itms, _ := url.Parse(html.UnescapeString(m[1]))
	if itms.Query().Get("action") != "download-manifest" {
		t.Fatalf("itms URL: %s", itms)
	}
	manifestURL := itms.Query().Get("url")
	// The package URL is the link's install: counted as the download is,
	// and recorded as an install.
	httpsLink := strings.Replace(link.InstallURL, "http://", "https://", 1) + "/i/My%20App.ipa"
	if !strings.HasPrefix(manifestURL, "https://") {
		t.Fatalf("manifest URL %s: iOS fetches manifests over HTTPS only", manifestURL)
	}
	// The test fetches it over plain HTTP, as the proxy would.
	resp, body = do(t, "GET", strings.Replace(manifestURL, "https://", "http://", 1), overHTTPS(iPhoneUA))
	wantCode(t, resp, body, 200)
	plist := parseManifest(t, body)
	// bundle-version is the bundle version (CFBundleVersion), as Apple's
	// deployment reference says: the package's 241, not the upload's 417.
	if plist["url"] != httpsLink || plist["kind"] != "software-package" || plist["bundle-version"] != "241" ||
		plist["title"] != "Demo App" || plist["bundle-identifier"] != "com.example.demo" {
		t.Fatalf("manifest: %v", plist)
	}
	for _, kind := range []string{"display-image", "full-size-image"} {
		if !strings.Contains(string(body), "<string>"+kind+"</string>") {
			t.Errorf("manifest has no %s", kind)
		}
	}
	// The manifest is valid XML plist, as howett.net/plist (and iOS) read it.
	var decoded map[string]any
	if _, err := plistlib.Unmarshal(body, &decoded); err != nil || len(decoded["items"].([]any)) != 1 {
		t.Fatalf("manifest does not parse as a plist: %v", err)
	}
	item := decoded["items"].([]any)[0].(map[string]any)
	if md := item["metadata"].(map[string]any); md["kind"] != "software" || len(item["assets"].([]any)) != 3 {
		t.Fatalf("manifest item: %v", item)
	}
	// A public link's manifest works as long as the link: an hour after
	// the page was opened, and without a signature (the link is the
	// credential, as for its page).
	e.advance(time.Hour)
	resp, body = do(t, "GET", strings.Replace(manifestURL, "https://", "http://", 1), overHTTPS(iPhoneUA))
	wantCode(t, resp, body, 200)
	resp, got = do(t, "GET", strings.Replace(parseManifest(t, body)["url"], "https://", "http://", 1), nil)
	wantCode(t, resp, got, 200)

	// An APK has no Install button; its page shows what the manifest says.
	b2 := e.upload(admin, part{"file", "app.apk", helloAPK(t)})
	var l2 struct{ InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b2.Files[0].FileID+"/public-link", admin, `{}`, &l2)
	e.waitProcessed(b2.BuildID)
	resp, body = do(t, "GET", l2.InstallURL, nil)
	wantCode(t, resp, body, 200)
	if strings.Contains(string(body), "itms-services") || !strings.Contains(string(body), `id="download"`) {
		t.Fatal("APK page: Install shown or Download missing")
	}
	for _, want := range []string{`<h1 id="app">HelloWorld</h1>`, `<p class="meta" id="version">Version 1.0 (1)</p>`, "Android API level 15 or later", `id="icon"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("APK page lacks %q", want)
		}
	}
}

// A package that could not be read still downloads; the page says why its
// details are missing and offers no Install (the manifest would name no
// bundle).
func TestInstallPageUnreadablePackage(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "broken.ipa", "not a zip"})
	var link struct{ PublicLinkID, InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &link)
	e.waitProcessed(b.BuildID)
	resp, body := do(t, "GET", link.InstallURL, nil)
	wantCode(t, resp, body, 200)
	if strings.Contains(string(body), "itms-services") || !strings.Contains(string(body), "could not read this package") ||
		!strings.Contains(string(body), `id="download"`) {
		t.Fatalf("page: %s", body)
	}
	path := "/p/" + link.PublicLinkID + "/manifest.plist"
	resp, body = do(t, "GET", e.ts.URL+path+"?"+e.sign("GET", path), nil)
	wantCode(t, resp, body, 400)
}

// sign signs a URL path with the server's current key, as it would.
func (e *env) sign(method, path string) string {
	e.t.Helper()
	stored, err := e.store.SigningKeys()
	if err != nil || len(stored) == 0 {
		e.t.Fatalf("signing keys: %v", err)
	}
	keys := make([]urlsign.Key, len(stored))
	for i, k := range stored {
		keys[i] = urlsign.Key{ID: k.ID, Secret: k.Secret}
	}
	return urlsign.NewKeyring(keys).Sign(method, path, e.clock().Add(time.Minute))
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

// The profile line follows the clock: an expired profile is flagged (the
// app will not launch), one without a date is not called expired.
func TestInstallPageProfileExpiry(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "Demo.ipa", demoIPA()})
	var link struct{ InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &link)
	e.waitProcessed(b.BuildID)
	page := func() string {
		resp, body := do(t, "GET", link.InstallURL, nil)
		wantCode(t, resp, body, 200)
		return string(body)
	}
	if strings.Contains(page(), "not installable") {
		t.Fatal("a valid profile shown as expired")
	}
	e.advance(pkgtest.ProfileExpires.Sub(e.clock()) + time.Hour)
	if !strings.Contains(page(), "(not installable)") {
		t.Fatal("an expired profile not flagged")
	}
	e.store.UpdateBuild(b.BuildID, func(b *store.Build) error { b.Profile.Expires = time.Time{}; return nil })
	if p := page(); strings.Contains(p, "expire") || strings.Contains(p, "not installable") || !strings.Contains(p, "Ad hoc, 3 devices") {
		t.Fatal("a profile without a date: wrong profile line")
	}
}

// While a build is being read its page shows the file's name, says the
// details will come, and offers Download but not Install; the manifest is
// 5014 until the bundle id is known.
func TestInstallPageWhileProcessing(t *testing.T) {
	release := make(chan struct{})
	e := newEnvReading(t, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}, func(string) (pkginfo.Info, error) {
		<-release
		return pkginfo.Info{OS: "ios", BundleID: "com.example.demo", AppName: "Demo App"}, nil
	}, time.Minute)
	admin := e.adminToken()
	b := e.upload(admin, part{"file", "Demo.ipa", "x"})
	var link struct{ PublicLinkID, InstallURL string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &link)

	resp, body := do(t, "GET", link.InstallURL, overHTTPS(iPhoneUA))
	wantCode(t, resp, body, 200)
	page := string(body)
	if !strings.Contains(page, `<h1 id="app">Demo.ipa</h1>`) || !strings.Contains(page, "still being processed") ||
		strings.Contains(page, "itms-services") || !strings.Contains(page, `id="download"`) {
		t.Fatalf("page while processing: %s", page)
	}
	path := "/p/" + link.PublicLinkID + "/manifest.plist"
	resp, body = do(t, "GET", e.ts.URL+path+"?"+e.sign("GET", path), nil)
	wantCode(t, resp, body, 400)

	close(release)
	e.waitProcessed(b.BuildID)
	resp, body = do(t, "GET", link.InstallURL, overHTTPS(iPhoneUA))
	wantCode(t, resp, body, 200)
	if page = string(body); !strings.Contains(page, `<h1 id="app">Demo App</h1>`) || strings.Contains(page, "still being processed") ||
		!strings.Contains(page, "itms-services") {
		t.Fatalf("page once processed: %s", page)
	}
}
