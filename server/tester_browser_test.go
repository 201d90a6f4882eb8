package server_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hangar/pkginfo/pkgtest"
	"hangar/store"
)

// Tester pages in headless Chromium, as each device sees them: the right
// primary action is the one rendered and visible, over plain HTTP and over
// HTTPS, and a password page unlocks through its form. Screenshots at the
// device's size go to $CONSOLE_SHOTS (or the test's temp folder).
func TestTesterPagesInBrowser(t *testing.T) {
	needBrowser(t)
	e := newEnv(t)
	tlsServer := httptest.NewTLSServer(e.srv) // the same server over HTTPS
	t.Cleanup(tlsServer.Close)
	admin := e.adminToken()
	link := func(b buildResp) string {
		var l struct{ PublicLinkID string }
		e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{}`, &l)
		return "/p/" + l.PublicLinkID
	}
	// The APK last: the distributions show it.
	ipa := e.upload(admin, part{"version", "", "2.4.1"}, part{"notes", "", "Offline mode.\nFaster start."}, part{"file", "Demo.ipa", demoIPA()})
	aab := e.upload(admin, part{"file", "App.aab", string(pkgtest.AAB())})
	expired := e.upload(admin, part{"file", "Old.ipa", demoIPA()})
	apk := e.upload(admin, part{"notes", "", "Offline mode.\nFaster start."}, part{"file", "app.apk", helloAPK(t)})
	for _, b := range []buildResp{ipa, apk, aab, expired} {
		e.waitProcessed(b.BuildID)
	}
	e.store.UpdateBuild(expired.BuildID, func(b *store.Build) error { b.Profile.Expires = time.Now().Add(-24 * time.Hour); return nil })
	ipaPage, apkPage, aabPage, expiredPage := link(ipa), link(apk), link(aab), link(expired)
	e.distribution(admin, `{"slug":"nightly","name":"Nightly","showHistory":true,"showDevInfo":true}`)
	e.distribution(admin, `{"slug":"private","security":"password","password":"open-sesame"}`)
	e.distribution(admin, `{"slug":"team","security":"members"}`)

	shots := shotsDir(t)
	type view struct {
		name, ua string
		w, h     int64
	}
	phone := func(name, ua string) view { return view{name, ua, 390, 844} }
	cases := []struct {
		view
		base, path string
		primary    string // the id of the primary button, "" for none
		notice     string
	}{
		{phone("iphone-https", iPhoneUA), tlsServer.URL, ipaPage, "install", ""},
		{phone("iphone-http", iPhoneUA), e.ts.URL, ipaPage, "", "plain HTTP"},
		{phone("iphone-expired-profile", iPhoneUA), tlsServer.URL, expiredPage, "", "provisioning profile expired"},
		{phone("android-apk", androidUA), e.ts.URL, apkPage, "download", ""},
		{phone("android-aab", androidUA), e.ts.URL, aabPage, "", "cannot install an .aab"},
		{view{"desktop-ipa", desktopUA, 1280, 900}, e.ts.URL, ipaPage, "download", ""},
		{phone("android-distribution", androidUA), e.ts.URL, "/d/acme/nightly", "download", ""},
		{view{"desktop-distribution", desktopUA, 1280, 900}, e.ts.URL, "/d/acme/nightly", "download", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := browser(t, c.ua)
			if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(c.w, c.h)); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(c.base+c.path), chromedp.WaitVisible(chromedp.ID("app"))); err != nil {
				t.Fatal(err)
			}
			got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
				const p = document.querySelector(".button.primary");
				const n = document.getElementById("notice");
				const visible = p && p.getBoundingClientRect().height > 0;
				return [visible ? p.id : "", n ? n.textContent : "", String(document.querySelector(".qr img").naturalWidth)] })()`))
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != c.primary || !strings.Contains(got[1], c.notice) || (c.notice == "") != (got[1] == "") {
				t.Errorf("primary %q, notice %q; want %q, %q", got[0], got[1], c.primary, c.notice)
			}
			if got[2] == "0" {
				t.Error("the QR code did not load")
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(shots, "tester-"+c.name+".png"), png, 0o644)
		})
	}
	// A members-only page to a visitor who is not signed in: the page of a
	// name never used, with Sign in.
	t.Run("members-signed-out", func(t *testing.T) {
		ctx := browser(t, iPhoneUA)
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.ts.URL+"/d/acme/team"), chromedp.WaitVisible(chromedp.ID("signin"))); err != nil {
			t.Fatal(err)
		}
		png, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		os.WriteFile(filepath.Join(shots, "tester-members-signed-out.png"), png, 0o644)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("password", func(t *testing.T) {
		ctx := browser(t, iPhoneUA)
		do := func(steps ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(ctx, steps...); err != nil {
				t.Fatal(err)
			}
		}
		do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.ts.URL+"/d/acme/private"), chromedp.WaitVisible(chromedp.ID("password")))
		png, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		os.WriteFile(filepath.Join(shots, "tester-password.png"), png, 0o644)
		do(chromedp.SendKeys(chromedp.ID("password"), "not-it"), chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.ID("wrong")),
			chromedp.SendKeys(chromedp.ID("password"), "open-sesame"), chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.ID("app")))
		title, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("app")))
		if err != nil || title != "HelloWorld" {
			t.Fatalf("unlocked page: %q %v", title, err)
		}
	})
}

// needBrowser skips a browser test with -short (the inner loop; .ci/run
// runs them all) and where there is no chromium, unless in CI, where it
// must run.
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a browser test: not with -short")
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		if why := os.Getenv("HANGAR_NO_BROWSER"); why != "" || os.Getenv("CI") == "" {
			t.Skipf("SKIPPED, a browser test did not run: no chromium here (%s; Debian: apt-get install chromium)", why)
		}
		t.Fatal("chromium is missing: .ci/run installs it")
	}
}

// shotsDir is where browser tests write screenshots: $CONSOLE_SHOTS, or
// the test's temp folder.
func shotsDir(t *testing.T) string {
	if d := os.Getenv("CONSOLE_SHOTS"); d != "" {
		return d
	}
	return t.TempDir()
}

// driver gives a browser test its two most used steps: do runs actions
// and fails the test on an error; text reads an element's text.
func driver(t *testing.T, ctx context.Context) (do func(...chromedp.Action[chromedp.Void]), text func(string) string) {
	do = func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text = func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return do, text
}

// shootSizes writes screenshots of the page at a phone's and a desktop's
// size to dir, as name-phone.png and name-desktop.png.
func shootSizes(dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for _, size := range []struct {
			w, h int64
			tag  string
		}{{390, 844, "phone"}, {1280, 900, "desktop"}} {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h)); err != nil {
				return err
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, name+"-"+size.tag+".png"), png, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}

// browser starts a headless Chromium for one test, saying it is ua (""
// for its own User-Agent).
func browser(t *testing.T, ua string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.IgnoreCertErrors)
	if ua != "" {
		opts = append(opts, chromedp.UserAgent(ua))
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
