package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hangar/hangartest"
	"hangar/pkginfo/pkgtest"
	"hangar/store"
)

// The console as a person uses it, in headless Chromium against a real
// server: sign in through the form, find the project and its processed
// build (name, version, icon read from a real IPA), open the build, sign
// out. Screenshots of each page at a phone and a desktop size go to
// $CONSOLE_SHOTS (or the test's temp folder) to be looked at.
func TestConsoleInBrowser(t *testing.T) {
	needBrowser(t)
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "maria", "maria-password", "admin")
	e.mustReq(200, "PATCH", "/api/v1/workspace/acme", admin, `{"storageQuota": 1073741824}`, nil)
	b := e.upload(admin, part{"notes", "", "Faster sync.\nDark mode fixes."}, part{"deployer.name", "", "GitHub Actions"},
		part{"deployer.info.branch", "", "release/2.4"}, part{"deployer.info.commit", "", "9f8e7d6"},
		part{"deployer.info.commitMessage", "", "Fix the sync of large notebooks"}, part{"deployer.info.buildNumber", "", "318"},
		part{"deployer.info.buildUrl", "", "https://ci.example/runs/318"}, part{"file", "App.ipa", string(pkgtest.IPA(pkgtest.DemoApp))},
		part{"file", "App.dSYM.zip", "symbols"})
	hangartest.WaitProcessed(t, e.store, b.BuildID)
	for i := range 3 {
		e.mustReq(201, "POST", projPath+"/build", admin, `{"version":"2.3.`+string(rune('0'+i))+`","buildNumber":"23`+string(rune('0'+i))+`"}`, nil)
	}
	var firstLink struct{ PublicLinkID string }
	e.mustReq(201, "POST", projPath+"/build/files/"+b.Files[0].FileID+"/public-link", admin, `{"downloadLimit": 25}`, &firstLink)

	shots := shotsDir(t)
	ctx := browser(t, "")

	shoot := func(name string) chromedp.Action[chromedp.Void] { return shootSizes(shots, name) }
	do, text := driver(t, ctx)
	// until polls a page condition for up to 5 s.
	until := func(js string) bool {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
				return true
			}
		}
		return false
	}
	loaded := func(selector string) bool {
		t.Helper()
		return until(`(() => { const is = [...document.querySelectorAll("` + selector + `")]; return is.length > 0 && is.every(i => i.complete && i.naturalWidth > 0) })()`)
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
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app?q=2.3"), chromedp.WaitVisible(chromedp.CSS("ul.builds")), shoot("project-filtered"),
		chromedp.Navigate(e.ts.URL+"/w/acme/p/app"), chromedp.WaitVisible(chromedp.CSS("ul.builds")))
	do(shoot("project"),
		chromedp.Click(chromedp.CSS(`a[href$="/b/`+b.BuildID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	buildText := text("main")
	// The icon is a real image that loaded (a signed URL, through the CSP).
	iconOK := loaded("img.icon")
	do(shoot("build"),
		// A new link through the form: 5 downloads.
		chromedp.SendKeys(chromedp.ID("limit"), "5"),
		chromedp.Submit(chromedp.ID("limit")))
	// The build page again, now with two links (the first was made through
	// the API): wait for the new page, not the old one still showing.
	if !until(`document.querySelectorAll("input.url").length == 2`) {
		t.Fatal("the new link did not appear")
	}
	if !loaded("img.qr") {
		t.Fatal("QR images did not load")
	}
	links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("input.url")].map(i => i.value)`))
	if err != nil || len(links) != 2 {
		t.Fatalf("link URLs on the page: %v %v", links, err)
	}
	do(shoot("build-links"),
		chromedp.Click(chromedp.CSS(".linkrow a")))
	if !until(`document.querySelector("h1").textContent.startsWith("Link to")`) || !loaded("img.qr") {
		t.Fatal("the link page did not open")
	}
	do(shoot("link"))
	// What cannot be undone asks first, the same way everywhere:
	// Deactivate… opens a confirmation page; nothing has happened until
	// it is confirmed.
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app/b/"+b.BuildID),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")),
		chromedp.Click(chromedp.CSS(`a[href$="/link/`+firstLink.PublicLinkID+`/deactivate"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm")),
		shoot("confirm"))
	if got := text("main"); !strings.Contains(got, "cannot be undone") || !strings.Contains(got, "Cancel") {
		t.Fatalf("confirmation page: %q", got)
	}
	if l, _ := e.store.Link(firstLink.PublicLinkID); !l.IsActive {
		t.Fatal("the link was deactivated before the confirmation")
	}
	do(chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	if l, _ := e.store.Link(firstLink.PublicLinkID); l.IsActive {
		t.Fatal("the confirmed deactivation did not happen")
	}
	// An attachment's delete… asks too; Cancel leaves it.
	do(chromedp.Click(chromedp.CSS(`a.inline-danger`)),
		chromedp.WaitVisible(chromedp.ID("confirm")),
		chromedp.Click(chromedp.CSS(`#confirm + a`)),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	if files, _ := e.store.Files(b.BuildID); len(files) < 3 {
		t.Fatalf("Cancel deleted a file: %d left", len(files))
	}
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app/b/"+b.BuildID+"/delete"),
		chromedp.WaitVisible(chromedp.CSS("button.danger")),
		shoot("delete"),
		chromedp.Navigate(e.ts.URL+"/account"),
		chromedp.WaitVisible(chromedp.ID("current")),
		shoot("account"),
		chromedp.Navigate(e.ts.URL+"/w/acme"),
		chromedp.WaitVisible(chromedp.CSS("ul.list")),
		shoot("workspace"),
		chromedp.Navigate(e.ts.URL+"/w/acme/p/app/settings"),
		chromedp.WaitVisible(chromedp.ID("keep")),
		chromedp.SendKeys(chromedp.ID("name"), "release job"),
		chromedp.Submit(chromedp.ID("name")),
		chromedp.WaitVisible(chromedp.ID("newtoken")),
		shoot("settings"),
		chromedp.Navigate(e.ts.URL+"/w/acme/members"),
		chromedp.WaitVisible(chromedp.ID("username")),
		shoot("members"))
	// The new link is the tester page; its download serves the IPA's bytes.
	newLink := links[0]
	if strings.Contains(newLink, firstLink.PublicLinkID) {
		newLink = links[1]
	}
	resp, got := hangartest.Do(t, "GET", strings.Replace(newLink, "/p/", "/api/v1/public/file/", 1)+"/App.ipa", "", "", nil)
	if resp.StatusCode != 200 || string(got) != string(pkgtest.IPA(pkgtest.DemoApp)) {
		t.Fatalf("download through the new link: %d, %d bytes", resp.StatusCode, len(got))
	}
	// Upload from the browser: the form streams the package and an
	// attachment with a progress bar, then shows the build while it is
	// processed. The status line's texts are kept in sessionStorage, which
	// outlives the navigation to the build page.
	ipa := filepath.Join(t.TempDir(), "Field Notes.ipa")
	os.WriteFile(ipa, pkgtest.IPA(pkgtest.DemoApp), 0o600)
	notes := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notes, []byte("what changed"), 0o600)
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app/upload"),
		chromedp.WaitVisible(chromedp.ID("package")),
		chromedp.SendKeys(chromedp.ID("version"), "2.5.0"),
		chromedp.SetUploadFiles(chromedp.ID("package"), []string{ipa}),
		chromedp.SetUploadFiles(chromedp.ID("attachments"), []string{notes}),
		shoot("upload"))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const s = document.getElementById("status");
		new MutationObserver(() => sessionStorage.setItem("seen", (sessionStorage.getItem("seen") || "") + "|" + s.textContent))
			.observe(s, {childList: true, characterData: true, subtree: true});
		return true })()`)); err != nil {
		t.Fatal(err)
	}
	do(chromedp.Click(chromedp.CSS("#upload button")),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("seen") || ""`))
	if err != nil || !strings.Contains(seen, "Uploading… 100%") {
		t.Fatalf("progress seen during the upload: %q %v", seen, err)
	}
	uploaded, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	id := uploaded[strings.LastIndex(uploaded, "/")+1:]
	done := hangartest.WaitProcessed(t, e.store, id)
	if done.VersionName != "2.5.0" || done.AppName != "Demo App" {
		t.Fatalf("the browser's upload: %+v", done)
	}
	do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	if text := text("main"); !strings.Contains(text, "notes.txt") || !strings.Contains(text, "Field Notes.ipa") {
		t.Fatalf("uploaded build page:\n%s", text)
	}
	do(shoot("uploaded"))

	// A distribution through its form: the page with its address and QR
	// code follows.
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app/d"),
		chromedp.WaitVisible(chromedp.ID("slug")),
		chromedp.SendKeys(chromedp.ID("slug"), "beta"),
		chromedp.SendKeys(chromedp.ID("name"), "Beta testers"),
		chromedp.Submit(chromedp.ID("slug")),
		chromedp.WaitVisible(chromedp.ID("disturl")))
	distURL, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("disturl")))
	if err != nil || distURL != e.ts.URL+"/d/acme/beta" || !loaded("img.qr") {
		t.Fatalf("the new distribution's page: %q %v", distURL, err)
	}
	do(shoot("distribution"),
		chromedp.Navigate(e.ts.URL+"/w/acme/p/app/d"),
		chromedp.WaitVisible(chromedp.CSS("ul.links")),
		shoot("distributions"))

	// The devices testers registered: listed with the export link.
	ws, _ := e.store.WorkspaceBySlug("acme")
	for _, d := range []store.Device{{UDID: pkgtest.ProfileDevice, Product: "iPhone15,2", Version: "21F90", SourceKind: "link"},
		{UDID: "00008101-0011223344556677", Product: "iPad13,4", Version: "22A3354", SourceKind: "distribution"}} {
		d.WorkspaceID = ws.ID
		if _, err := e.store.RegisterDevice(d); err != nil {
			t.Fatal(err)
		}
	}
	do(chromedp.Navigate(e.ts.URL+"/w/acme/devices"), chromedp.WaitVisible(chromedp.ID("export")), shoot("devices"))
	if got := text("ul.links"); !strings.Contains(got, pkgtest.ProfileDevice) || !strings.Contains(got, "iPad13,4") {
		t.Fatalf("devices page: %q", got)
	}

	// A webhook through its form: the secret shown once, then its page.
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app/webhooks"),
		chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("url"), "https://chat.example/hooks/abc"),
		chromedp.Submit(chromedp.ID("url")),
		chromedp.WaitVisible(chromedp.ID("newsecret")),
		shoot("webhooks"),
		chromedp.Click(chromedp.CSS("ul.links a")),
		chromedp.WaitVisible(chromedp.CSS("a.danger")))
	// An event for it (no worker runs here: the delivery waits), and its
	// page with the delivery log.
	e.mustReq(201, "POST", projPath+"/build", admin, `{"version":"2.6.0"}`, nil)
	do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("table.deliveries")), shoot("webhook"))

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
	// The instance admin's pages.
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	do(chromedp.SendKeys(chromedp.ID("username"), "root"),
		chromedp.SendKeys(chromedp.ID("password"), "root-password"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("slug")),
		shoot("home-admin"),
		chromedp.Navigate(e.ts.URL+"/users"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "nina"),
		chromedp.Submit(chromedp.ID("username")),
		chromedp.WaitVisible(chromedp.ID("newsecret")),
		shoot("users"),
		chromedp.Navigate(e.ts.URL+"/tokens"),
		chromedp.WaitVisible(chromedp.CSS("table")),
		shoot("tokens"),
		chromedp.Navigate(e.ts.URL+"/w/acme"),
		chromedp.WaitVisible(chromedp.ID("quota")),
		shoot("workspace-admin"),
		chromedp.Navigate(e.ts.URL+"/w/acme/p/nosuch"),
		chromedp.WaitVisible(chromedp.CSS("main .card")),
		shoot("error"))

	// A viewer: no control that changes anything, and a form posted without
	// the page's token (a script on this very site) is refused.
	e.member(admin, "vic", "vic-password", "viewer")
	do(chromedp.Click(chromedp.CSS("button.link")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "vic"),
		chromedp.SendKeys(chromedp.ID("password"), "vic-password"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("meter")),
		chromedp.Navigate(e.ts.URL+"/w/acme/p/app/b/"+b.BuildID),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")),
		shoot("build-viewer"))
	controls, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("main form").length + document.querySelectorAll("a.danger, a.button").length`))
	if err != nil || controls != 0 {
		t.Fatalf("a viewer is offered %d controls (%v)", controls, err)
	}
	// (Signing out is a form a viewer may post: only the missing token
	// refuses it.)
	forged, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/signout", {method: "POST", redirect: "manual", body: new URLSearchParams({x: "1"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || forged != http.StatusForbidden {
		t.Fatalf("a form post without the token: %d (%v)", forged, err)
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
