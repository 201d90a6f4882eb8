package server_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"howett.net/plist"

	"hangar/config"
)

// withLocalCA configures the local CA for hangar.lan and 127.0.0.1, in a
// data directory of the test's own.
func withLocalCA(t *testing.T) func(*config.Config) {
	dir := t.TempDir()
	return func(c *config.Config) {
		c.DataDir = dir
		c.TLSMode = "local-ca"
		c.TLSNames = []string{"hangar.lan"}
		c.TLSIPs = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		c.TLSRanges = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.TLSLANAddresses = false
	}
}

// caOf reads the CA the server offers, as a tester downloads it.
func caOf(t *testing.T, e *env) *x509.Certificate {
	t.Helper()
	resp, body := do(t, "GET", e.ts.URL+"/trust/ca.crt", nil)
	wantCode(t, resp, body, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-x509-ca-cert" {
		t.Fatalf("Content-Type %q", ct)
	}
	b, _ := pem.Decode(body)
	if b == nil {
		t.Fatalf("not PEM: %q", body)
	}
	ca, err := x509.ParseCertificate(b.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CA: %v", err)
	}
	return ca
}

func TestTrustPageByPlatform(t *testing.T) {
	e := newEnvWith(t, withLocalCA(t))
	ca := caOf(t, e)
	for _, tc := range []struct {
		ua   string
		want []string
	}{
		{iPhoneUA, []string{`id="download-profile" href="/trust/ca.mobileconfig"`, "Certificate Trust Settings", "VPN &amp; Device Management"}},
		{androidUA, []string{`id="download-ca" href="/trust/ca.crt"`, "CA certificate", "ignore certificates users add"}},
		{desktopUA, []string{`id="download-ca"`, "update-ca-certificates"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/126", []string{"certutil -user -addstore Root"}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605", []string{"add-trusted-cert"}},
	} {
		resp, body := do(t, "GET", e.ts.URL+"/trust", http.Header{"User-Agent": {tc.ua}})
		wantCode(t, resp, body, 200)
		page := string(body)
		steps := page[strings.Index(page, `id="steps"`):strings.Index(page, `id="other-platforms"`)]
		for _, w := range tc.want[1:] {
			if !strings.Contains(steps, w) {
				t.Errorf("%s: the device's own steps lack %q", tc.ua, w)
			}
		}
		if !strings.Contains(page, tc.want[0]) {
			t.Errorf("%s: no %q", tc.ua, tc.want[0])
		}
		// The fingerprint shown is the CA's.
		m := regexp.MustCompile(`id="fingerprint">([0-9A-F:]+)<`).FindStringSubmatch(page)
		if m == nil || m[1] != fingerprint(ca) {
			t.Errorf("%s: fingerprint %v, want %s", tc.ua, m, fingerprint(ca))
		}
	}
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	var parts []string
	for _, b := range sum {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	return strings.Join(parts, ":")
}

// The profile loads with a property-list parser and has the fields Apple
// documents for a Configuration profile and a com.apple.security.root
// payload; the certificate in it is the CA.
func TestTrustProfile(t *testing.T) {
	e := newEnvWith(t, withLocalCA(t))
	ca := caOf(t, e)
	resp, body := do(t, "GET", e.ts.URL+"/trust/ca.mobileconfig", nil)
	wantCode(t, resp, body, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-apple-aspen-config" {
		t.Fatalf("Content-Type %q", ct)
	}
	var p struct {
		PayloadType, PayloadIdentifier, PayloadUUID, PayloadDisplayName string
		PayloadVersion                                                  int
		PayloadContent                                                  []struct {
			PayloadType, PayloadIdentifier, PayloadUUID, PayloadDisplayName, PayloadCertificateFileName string
			PayloadVersion                                                                              int
			PayloadContent                                                                              []byte
		}
	}
	if _, err := plist.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	uuid := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)
	if p.PayloadType != "Configuration" || p.PayloadVersion != 1 || p.PayloadIdentifier == "" || !uuid.MatchString(p.PayloadUUID) || p.PayloadDisplayName == "" || len(p.PayloadContent) != 1 {
		t.Fatalf("profile: %+v", p)
	}
	c := p.PayloadContent[0]
	if c.PayloadType != "com.apple.security.root" || c.PayloadVersion != 1 || !strings.HasPrefix(c.PayloadIdentifier, p.PayloadIdentifier+".") ||
		!uuid.MatchString(c.PayloadUUID) || c.PayloadUUID == p.PayloadUUID || string(c.PayloadContent) != string(ca.Raw) {
		t.Fatalf("payload: %+v", c)
	}
	// The same profile each time: a second download replaces the first.
	_, again := do(t, "GET", e.ts.URL+"/trust/ca.mobileconfig", nil)
	if string(again) != string(body) {
		t.Fatal("the profile changed between downloads")
	}
}

// Without a local CA: no certificate to download, and the page says what
// the admin can do.
func TestTrustPageWithoutCA(t *testing.T) {
	e := newEnv(t)
	resp, body := do(t, "GET", e.ts.URL+"/trust", http.Header{"User-Agent": {iPhoneUA}})
	wantCode(t, resp, body, 200)
	if !strings.Contains(string(body), `tls_mode = &#34;local-ca&#34;`) {
		t.Fatalf("page: %s", body)
	}
	for _, p := range []string{"/trust/ca.crt", "/trust/ca.mobileconfig"} {
		resp, body := do(t, "GET", e.ts.URL+p, nil)
		wantCode(t, resp, body, 404)
	}
}

// The HTTPS listener serves the local CA's certificate (HTTP/2 too); the
// onboarding listener serves the trust page and the CA over plain HTTP
// and sends everything else to HTTPS.
func TestOnboardingListener(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) {
		withLocalCA(t)(c)
		c.PublicURL, c.PublicURLDerived = "https://hangar.lan:8443", false
	})
	ca := caOf(t, e)
	addr := serveReal(t, e)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("%s", resp.Proto)
	}
	// HSTS on the HTTPS listener only.
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("HTTPS answer: Strict-Transport-Security %q", got)
	}

	oaddr := serveOn(t, e.srv.ServeOnboarding)
	for _, tc := range []struct {
		method, path string
		code         int
		location     string
	}{
		{"GET", "/trust", 200, ""},
		{"GET", "/trust/ca.crt", 200, ""},
		{"GET", "/trust/ca.mobileconfig", 200, ""},
		{"GET", "/p/abc?x=1", 302, "https://hangar.lan:8443/p/abc?x=1"},
		{"POST", "/api/v1/workspace", 307, "https://hangar.lan:8443/api/v1/workspace"},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+oaddr+tc.path, strings.NewReader("{}"))
		resp, _ := sendNoRedirect(t, req)
		if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
		}
		if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
			t.Errorf("%s %s on the plain onboarding listener: Strict-Transport-Security %q", tc.method, tc.path, h)
		}
	}
}

// An iPhone on the local CA's HTTPS gets Install and a pointer to the
// trust page for its first time; over plain HTTP, the trust page instead
// of Install.
func TestInstallPagePointsToTrust(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) {
		withLocalCA(t)(c)
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	_, link := ipaLink(e)
	_, body := do(t, "GET", link.InstallURL, overHTTPS(iPhoneUA))
	if page := string(body); !strings.Contains(page, `id="install"`) || !strings.Contains(page, `id="trust-hint"`) || !strings.Contains(page, `/trust">Trust this server`) {
		t.Fatalf("over HTTPS: %s", page)
	}
	_, body = do(t, "GET", link.InstallURL, http.Header{"User-Agent": {iPhoneUA}})
	if page := string(body); strings.Contains(page, `id="install"`) || !strings.Contains(page, `id="trust-link" href="`+e.ts.URL+`/trust"`) {
		t.Fatalf("over HTTP: %s", page)
	}
}

// A Host this instance does not answer to never reaches a page, a
// manifest or a redirect: they use the configured
// address instead.
func TestForeignHostNotInURLs(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) {
		withLocalCA(t)(c)
		c.PublicURL, c.PublicURLDerived = "https://hangar.lan:8443", true // as derived from listen
	})
	_, link := ipaLink(e)
	for _, path := range []string{"/p/" + link.PublicLinkID, "/p/" + link.PublicLinkID + "/manifest.plist"} {
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		req.Host = "evil.example"
		req.Header.Set("User-Agent", iPhoneUA)
		resp, body := sendNoRedirect(t, req)
		if resp.StatusCode != 200 || strings.Contains(string(body), "evil.example") || !strings.Contains(string(body), "hangar.lan:8443") {
			t.Errorf("%s with Host evil.example: %d %s", path, resp.StatusCode, body)
		}
	}
	oaddr := serveOn(t, e.srv.ServeOnboarding)
	req, _ := http.NewRequest("GET", "http://"+oaddr+"/p/abc", nil)
	req.Host = "evil.example"
	resp, _ := sendNoRedirect(t, req)
	if loc := resp.Header.Get("Location"); loc != "https://hangar.lan:8443/p/abc" {
		t.Errorf("onboarding redirect with Host evil.example: %d %q", resp.StatusCode, loc)
	}
}
