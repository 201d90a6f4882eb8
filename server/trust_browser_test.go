package server_test

import (
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"hangar/config"
	"hangar/pkginfo/pkgtest"
)

// The trust page on an iPhone, an Android phone and a desktop, and a
// registered device's page, in Chromium; screenshots at phone and desktop
// sizes.
func TestTrustAndDevicePagesInBrowser(t *testing.T) {
	needBrowser(t)
	e := newEnvWith(t, func(c *config.Config) {
		withLocalCA(t)(c)
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	_, link := ipaLink(e)
	en := fetchEnrollment(t, e, link.InstallURL)
	resp, body := postAnswer(t, en.URL, answer(t, pkgtest.ProfileDevice, en.Challenge))
	wantCode(t, resp, body, 301)
	devicePage := viaProxy(resp.Header.Get("Location"))
	tlsServer := httptest.NewTLSServer(e.srv) // the tester page over HTTPS (Chromium ignores the test certificate)
	t.Cleanup(tlsServer.Close)

	shots := shotsDir(t)
	for _, c := range []struct {
		name, ua, url, want string
		w, h                int64
	}{
		{"trust-iphone", iPhoneUA, e.ts.URL + "/trust", "download-profile", 390, 844},
		{"trust-android", androidUA, e.ts.URL + "/trust", "download-ca", 390, 844},
		{"trust-desktop", desktopUA, e.ts.URL + "/trust", "download-ca", 1280, 900},
		{"tester-iphone-local-ca", iPhoneUA, tlsServer.URL + "/p/" + link.PublicLinkID, "trust-hint", 390, 844},
		{"device-iphone", iPhoneUA, devicePage, "udid", 390, 844},
		{"device-desktop", desktopUA, devicePage, "udid", 1280, 900},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := browser(t, c.ua)
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(c.w, c.h), chromedp.Navigate(c.url), chromedp.WaitVisible(chromedp.ID(c.want))); err != nil {
				t.Fatal(err)
			}
			text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(c.name, "device") && (!strings.Contains(text, pkgtest.ProfileDevice) || !strings.Contains(text, "Will install")) {
				t.Errorf("device page: %q", text)
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(shots, c.name+".png"), png, 0o644)
		})
	}
}
