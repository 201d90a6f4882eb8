package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"hangar/store"
)

// A tester as they meet Hangar, in headless Chromium on an iPhone's
// User-Agent over HTTPS: the page for testers asks for an address, the
// mail (as mailpit shows it) has a working button, its page signs the
// device in, and the page then offers Install. Screenshots of each page
// and the mail at phone and desktop sizes go to $CONSOLE_SHOTS.
func TestTesterSignInInBrowser(t *testing.T) {
	needBrowser(t)
	e, mp, admin := newTestersEnv(t)
	tlsServer := httptest.NewTLSServer(e.srv)
	t.Cleanup(tlsServer.Close)
	shots := shotsDir(t)
	ctx := browser(t, iPhoneUA)
	do, text := driver(t, ctx)

	do(chromedp.Navigate(tlsServer.URL+"/d/acme/beta"), chromedp.WaitVisible(chromedp.ID("email")), shootSizes(shots, "tester-signin"),
		chromedp.SendKeys(chromedp.ID("email"), "ana@example.com"), chromedp.Submit(chromedp.ID("email")),
		chromedp.WaitVisible(chromedp.ID("sent")), shootSizes(shots, "tester-signin-sent"))

	msgs := mp.WaitFor(1)
	msg := mp.Message(msgs[0].ID)
	m := testerLinkIn.FindStringSubmatch(msg.Text)
	if m == nil || !strings.HasPrefix(m[0], tlsServer.URL+"/t/signin/") {
		t.Fatalf("no link to this server in the mail: %q", msg.Text)
	}
	do(chromedp.Navigate(mp.API+"/view/"+msgs[0].ID+".html"), chromedp.WaitVisible(chromedp.CSS("a")), shootSizes(shots, "mail-tester-signin"))
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("a").href`))
	if err != nil || href != m[0] {
		t.Fatalf("the mail's button goes to %q (%v), want %s", href, err, m[0])
	}

	do(chromedp.Navigate(m[0]), chromedp.WaitVisible(chromedp.ID("confirm")), shootSizes(shots, "tester-signin-confirm"),
		chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("install")), shootSizes(shots, "tester-page"))
	if got := text("#tester"); got != "Signed in as ana@example.com" {
		t.Errorf("the page says %q", got)
	}
	install, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("install").href`))
	if err != nil || !strings.HasPrefix(install, "itms-services://?action=download-manifest&url=") {
		t.Fatalf("Install: %q %v", install, err)
	}
	// What iOS does with Install: fetch the manifest, then its package.
	itms, _ := url.Parse(install)
	resp, err := tlsServer.Client().Get(itms.Query().Get("url"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "software-package") {
		t.Fatalf("manifest: %d %s", resp.StatusCode, body)
	}

	// The page of their apps, at a phone's size: Install there too.
	do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(tlsServer.URL+"/apps"), chromedp.WaitVisible(chromedp.CSS(".action-install")), shootSizes(shots, "apps"))
	appsInstall, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".action-install").href`))
	if err != nil || !strings.HasPrefix(appsInstall, "itms-services://?action=download-manifest&url=") {
		t.Fatalf("Install on /apps: %q %v", appsInstall, err)
	}
	do(chromedp.Navigate(tlsServer.URL+"/d/acme/beta"), chromedp.WaitVisible(chromedp.ID("install")))

	// A report with a screenshot, from the page.
	shotFile := filepath.Join(t.TempDir(), "screenshot.png")
	if err := os.WriteFile(shotFile, []byte(pngOf(t, 390, 844)), 0o644); err != nil {
		t.Fatal(err)
	}
	do(chromedp.Click(chromedp.CSS("#feedback summary")), chromedp.WaitVisible(chromedp.ID("feedback-text")),
		chromedp.SendKeys(chromedp.ID("feedback-text"), "The login button does nothing on the second tap."),
		chromedp.SetUploadFiles(chromedp.ID("feedback-shots"), []string{shotFile}), shootSizes(shots, "tester-feedback-form"),
		chromedp.Click(chromedp.ID("send-feedback")), chromedp.WaitVisible(chromedp.ID("feedback-sent")), shootSizes(shots, "tester-feedback-sent"))
	// The mail a member who asked for feedback gets, as mailpit shows it.
	e.newUser(admin, `{"username":"fay","password":"fay-password","email":"fay@example.com"}`)
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"fay","role":"developer"}`, nil)
	e.mustReq(http.StatusNoContent, "PUT", "/api/v1/workspace/acme/feedback-mail", e.login("fay", "fay-password"), `{"enabled":true}`, nil)
	do(chromedp.Click(chromedp.CSS("#feedback summary")), chromedp.WaitVisible(chromedp.ID("feedback-text")),
		chromedp.SendKeys(chromedp.ID("feedback-text"), "Second report: the icon is blurry."),
		chromedp.Click(chromedp.ID("send-feedback")), chromedp.WaitVisible(chromedp.ID("feedback-sent")))
	feedbackMail := mp.WaitFor(2)[0]
	if feedbackMail.To[0].Address != "fay@example.com" {
		t.Fatalf("the newest mail is to %v", feedbackMail.To)
	}
	do(chromedp.Navigate(mp.API+"/view/"+feedbackMail.ID+".html"), chromedp.WaitVisible(chromedp.CSS("a")), shootSizes(shots, "mail-feedback"),
		chromedp.Navigate(tlsServer.URL+"/d/acme/beta"), chromedp.WaitVisible(chromedp.ID("install")))

	// Removed from the group, the same device sees the sign-in form again.
	e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme/tester-group/qa", admin, `{"remove":["ana@example.com"]}`, nil)
	do(chromedp.Navigate(tlsServer.URL+"/d/acme/beta"), chromedp.WaitVisible(chromedp.ID("other")), shootSizes(shots, "tester-signin-other"))

	// The team reads the report on the build's page.
	builds, _, _, _ := e.store.SearchBuilds(e.build.ProjectID, store.BuildQuery{}, "", 1)
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	cookie := e.signIn("root", "root-password")
	if code, page, _ := e.getPage("/w/acme/p/app/b/"+builds[0].Build.ID, cookie); code != 200 || !strings.Contains(page, "The login button does nothing") || !strings.Contains(page, "ana@example.com") {
		t.Errorf("the build's page does not show the report: %d", code)
	}
	do(chromedp.Navigate(tlsServer.URL+"/signin"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "root"), chromedp.SendKeys(chromedp.ID("password"), "root-password"),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("a.who")),
		chromedp.Navigate(tlsServer.URL+"/w/acme/p/app/b/"+builds[0].Build.ID+"#feedback"), chromedp.WaitVisible(chromedp.CSS("article.report img")),
		chromedp.ScrollIntoView(chromedp.ID("feedback")), shootSizes(shots, "build-feedback"))

}

// A notification as its recipient sees it, its unsubscribe page, and the
// console's distribution form with its groups and mail setting.
func TestNotificationInBrowser(t *testing.T) {
	needBrowser(t)
	e, mp, admin := newTestersEnv(t)
	shots := shotsDir(t)
	ctx := browser(t, "")
	do, text := driver(t, ctx)
	e.mustReq(http.StatusOK, "PATCH", projPath+"/distribution/beta", admin, `{"notify":"always"}`, nil)
	b := e.upload(admin, part{"version", "", "4.0"}, part{"notes", "", "Login fixed.\nNew onboarding screens.\nCrash on rotation gone."}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	msgs := mp.WaitFor(2)
	do(chromedp.Navigate(mp.API+"/view/"+msgs[0].ID+".html"), chromedp.WaitVisible(chromedp.CSS("a")), shootSizes(shots, "mail-notification"))
	unsub, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("a")].find(a => a.textContent == "Unsubscribe").href`))
	if err != nil || !strings.Contains(unsub, "/t/unsubscribe/") {
		t.Fatalf("no Unsubscribe link in the mail: %q %v", unsub, err)
	}
	do(chromedp.Navigate(unsub), chromedp.WaitVisible(chromedp.ID("unsubscribe")), shootSizes(shots, "unsubscribe"),
		chromedp.Click(chromedp.ID("unsubscribe")), chromedp.WaitVisible(chromedp.ID("resubscribe")), shootSizes(shots, "unsubscribed"))
	if got := text("#state"); !strings.Contains(got, "no more mail about new builds on Beta") {
		t.Errorf("after unsubscribing: %q", got)
	}

	installOnIPhone(t, e, "/d/acme/beta", e.signInTester(mp, "/d/acme/beta", "ana@example.com"))
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	do(chromedp.Navigate(e.ts.URL+"/signin"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "root"), chromedp.SendKeys(chromedp.ID("password"), "root-password"),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("a.who")),
		chromedp.Navigate(e.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("p.warning")), shootSizes(shots, "console-warnings"),
		chromedp.Navigate(e.ts.URL+"/w/acme/p/app/d/beta"), chromedp.WaitVisible(chromedp.ID("groups")), shootSizes(shots, "distribution-testers"))
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app/settings"), chromedp.WaitVisible(chromedp.ID("appcenter")), shootSizes(shots, "settings-appcenter"))
	if got := text("#appcenter pre"); !strings.Contains(got, "APPCENTER_ENDPOINT="+e.ts.URL) || !strings.Contains(got, "--app acme/app") {
		t.Errorf("the App Center commands: %s", got)
	}
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app/d/beta"), chromedp.WaitVisible(chromedp.ID("groups")))
	if checked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("input[name=groups][value=qa]").checked`)); err != nil || !checked {
		t.Errorf("the group qa is not checked on the form: %v", err)
	}
	do(chromedp.Navigate(e.ts.URL+"/w/acme/p/app/b/"+b.BuildID), chromedp.WaitVisible(chromedp.CSS("table.installs")), shootSizes(shots, "build-installs"),
		chromedp.Navigate(e.ts.URL+"/w/acme/installs?tester=ana%40example.com"), chromedp.WaitVisible(chromedp.CSS("table.installs")), shootSizes(shots, "tester-installs"))
	if got := text("table.installs"); !strings.Contains(got, "ana@example.com") || !strings.Contains(got, "iPhone16,2") || !strings.Contains(got, "installed") {
		t.Errorf("the tester's installs: %s", got)
	}
}
