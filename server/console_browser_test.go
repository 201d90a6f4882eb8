package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hangar/hangartest"
	"hangar/pkginfo/pkgtest"
)

// The console as a person uses it, in headless Chromium against a real
// server: sign in through the form, find the project and its processed
// build (name, version, icon read from a real IPA), open the build, sign
// out. Screenshots of each page at a phone and a desktop size go to
// $CONSOLE_SHOTS (or the test's temp folder) to be looked at.
func TestConsoleInBrowser(t *testing.T) {
	if _, err := exec.LookPath("chromium"); err != nil {
		if why := os.Getenv("HANGAR_NO_BROWSER"); why != "" || os.Getenv("CI") == "" {
			t.Skipf("SKIPPED, the console's browser test did not run: no chromium here (%s; Debian: apt-get install chromium)", why)
		}
		t.Fatal("chromium is missing: .ci/run installs it")
	}
	e := newEnv(t)
	admin := e.adminToken()
	e.mustReq(201, "POST", "/api/v1/user", admin, `{"username":"maria","password":"maria-password"}`, nil)
	e.mustReq(200, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"maria","role":"developer"}`, nil)
	e.mustReq(200, "PATCH", "/api/v1/workspace/acme", admin, `{"storageQuota": 1073741824}`, nil)
	b := e.upload(admin, part{"notes", "", "Faster sync.\nDark mode fixes."}, part{"file", "App.ipa", string(pkgtest.IPA(pkgtest.DemoApp))},
		part{"file", "App.dSYM.zip", "symbols"})
	hangartest.WaitProcessed(t, e.store, b.BuildID)
	for i := range 3 {
		e.mustReq(201, "POST", projPath+"/build", admin, `{"version":"2.3.`+string(rune('0'+i))+`","buildNumber":"23`+string(rune('0'+i))+`"}`, nil)
	}
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{"downloadLimit": 25}`, nil)

	shots := os.Getenv("CONSOLE_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	shoot := func(name string) chromedp.Action[chromedp.Void] {
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
				if err := os.WriteFile(filepath.Join(shots, name+"-"+size.tag+".png"), png, 0o644); err != nil {
					return err
				}
			}
			return nil
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app"),
		// Signed out: the sign-in page, which returns here.
		chromedp.WaitVisible(chromedp.ID("username")),
		shoot("signin"),
		chromedp.SendKeys(chromedp.ID("username"), "maria"),
		chromedp.SendKeys(chromedp.ID("password"), "maria-password"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("ul.builds")))
	heading, projectText := text("h1"), text("body")
	do(shoot("project"),
		chromedp.Click(chromedp.CSS(`a[href$="/b/`+b.BuildID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	buildText := text("main")
	// The icon is a real image that loaded (a signed URL, through the CSP).
	iconOK, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = document.querySelector("img.icon"); return !!i && i.complete && i.naturalWidth > 0 })()`))
	if err != nil {
		t.Fatal(err)
	}
	do(shoot("build"),
		// A new link through the form: 5 downloads.
		chromedp.SendKeys(chromedp.ID("limit"), "5"),
		chromedp.Submit(chromedp.ID("limit")),
		chromedp.WaitVisible(chromedp.CSS(`img.qr[alt*="App.ipa"]`)))
	qrOK, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll("img.qr")].every(i => i.complete && i.naturalWidth > 0)`))
	if err != nil || !qrOK {
		t.Fatalf("QR images did not load: %v", err)
	}
	links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("input.url")].map(i => i.value)`))
	if err != nil || len(links) != 2 {
		t.Fatalf("link URLs on the page: %v %v", links, err)
	}
	do(shoot("build-links"))
	// The new link is the tester page; its download serves the IPA's bytes.
	resp, got := hangartest.Do(t, "GET", strings.Replace(links[1], "/p/", "/api/v1/public/file/", 1)+"/App.ipa", "", "", nil)
	if resp.StatusCode != 200 || string(got) != string(pkgtest.IPA(pkgtest.DemoApp)) {
		t.Fatalf("download through the new link: %d, %d bytes", resp.StatusCode, len(got))
	}
	do(chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("meter")),
		shoot("home"),
		chromedp.Click(chromedp.CSS("button.link")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("username")))
	after, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Demo App", "2.4.1", "(241)", "2.3.2", "processed", "maria"} {
		if !strings.Contains(strings.ToLower(projectText), strings.ToLower(want)) {
			t.Errorf("project page lacks %q:\n%s", want, projectText)
		}
	}
	for _, want := range []string{"com.example.demo", "15.0", "ad-hoc", "3 devices", "Faster sync.", "App.dSYM.zip", "0 of 25"} {
		if !strings.Contains(buildText, want) {
			t.Errorf("build page lacks %q:\n%s", want, buildText)
		}
	}
	if heading == "" || !iconOK {
		t.Errorf("heading %q, icon loaded %v", heading, iconOK)
	}
	if !strings.Contains(after, "/signin") {
		t.Errorf("after signing out, / is %s", after)
	}
	t.Logf("screenshots in %s", shots)
}
