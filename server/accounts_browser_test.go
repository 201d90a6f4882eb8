package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Accounts as people meet them, in headless Chromium: a workspace admin
// invites by e-mail from the members page; the invitation, as mailpit
// shows it, has a working button; the invitee chooses a username and
// password and lands in the console; the instance admin disables them
// (after a confirmation) and the users page says so; the forgotten
// password and account pages. Screenshots of each page and of the mail
// at phone and desktop sizes go to $CONSOLE_SHOTS.
func TestAccountsInBrowser(t *testing.T) {
	needBrowser(t)
	e, mp := newMailEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	e.mustReq(200, "PUT", "/api/v1/workspace/acme/member", admin, `{"username":"root","role":"admin"}`, nil)
	shots := shotsDir(t)
	ctx := browser(t, "")
	do, text := driver(t, ctx)

	do(chromedp.Navigate(e.ts.URL+"/signin"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "root"), chromedp.SendKeys(chromedp.ID("password"), "root-password"),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("a.who")),
		chromedp.Navigate(e.ts.URL+"/w/acme/members"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "ann@example.org"),
		chromedp.SetValue(chromedp.ID("invrole"), "developer"),
		chromedp.Submit(chromedp.ID("email")), chromedp.WaitVisible(chromedp.CSS("p.done")))
	if got := text("main"); !strings.Contains(got, "on its way to ann@example.org") || !strings.Contains(got, "Waiting to be accepted") {
		t.Fatalf("members page after inviting: %s", got)
	}
	do(shootSizes(shots, "members-invited"))

	// The mail as the invitee sees it (mailpit renders its HTML part).
	msgs := mp.WaitFor(1)
	link, _ := mailedLink(t, mp, 1, "ann@example.org")
	do(chromedp.Navigate(mp.API+"/view/"+msgs[0].ID+".html"), chromedp.WaitVisible(chromedp.CSS("a")), shootSizes(shots, "mail-invitation"))
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("a").href`))
	if err != nil || href != link {
		t.Fatalf("the mail's button goes to %q (%v), want %s", href, err, link)
	}

	// Signed out, the invitee opens the link: opening it changes nothing.
	do(chromedp.Navigate(e.ts.URL+"/account"), chromedp.WaitVisible(chromedp.CSS("form[action='/signout'] button")),
		chromedp.Click(chromedp.CSS("form[action='/signout'] button")), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("username")), shootSizes(shots, "invite"))
	if got := text("main"); !strings.Contains(got, "root invited ann@example.org to the workspace Acme as a developer") {
		t.Errorf("invite page: %s", got)
	}
	do(chromedp.SendKeys(chromedp.ID("username"), "ann"), chromedp.SendKeys(chromedp.ID("password"), "ann-password"),
		chromedp.SendKeys(chromedp.ID("confirm"), "ann-password"), chromedp.Submit(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.CSS("a.who")))
	if got := text("a.who"); got != "ann" {
		t.Errorf("after accepting, not signed in as ann: %s", got)
	}
	do(chromedp.Navigate(e.ts.URL+"/account"), chromedp.WaitVisible(chromedp.ID("current")), shootSizes(shots, "account"))
	do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("p.error")), shootSizes(shots, "invite-used"))

	// The instance admin disables ann, after a confirmation.
	do(chromedp.Navigate(e.ts.URL+"/account"), chromedp.WaitVisible(chromedp.CSS("form[action='/signout'] button")),
		chromedp.Click(chromedp.CSS("form[action='/signout'] button")), chromedp.WaitVisible(chromedp.ID("username")),
		shootSizes(shots, "signin-forgot"),
		chromedp.SendKeys(chromedp.ID("username"), "root"), chromedp.SendKeys(chromedp.ID("password"), "root-password"),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS("a.who")),
		chromedp.Navigate(e.ts.URL+"/users"), chromedp.WaitVisible(chromedp.CSS("table.users")), shootSizes(shots, "users"),
		chromedp.Click(chromedp.CSS(`a[href="/users/ann/disable"]`)), chromedp.WaitVisible(chromedp.CSS("main form button")),
		shootSizes(shots, "confirm-disable"),
		chromedp.Click(chromedp.CSS("main form button")), chromedp.WaitVisible(chromedp.CSS("tr.disabled")))
	if got := text("tr.disabled"); !strings.Contains(got, "Disabled") || !strings.Contains(got, "by root") {
		t.Errorf("disabled row: %s", got)
	}
	do(shootSizes(shots, "users-disabled"),
		chromedp.Navigate(e.ts.URL+"/tokens"), chromedp.WaitVisible(chromedp.CSS("table.tokens")), shootSizes(shots, "tokens"),
		chromedp.Navigate(e.ts.URL+"/account"), chromedp.WaitVisible(chromedp.CSS("table.sessions")), shootSizes(shots, "account-sessions"))
	if got := text("table.sessions"); !strings.Contains(got, "this browser") {
		t.Errorf("sessions: %s", got)
	}
	do(chromedp.Navigate(e.ts.URL+"/audit"), chromedp.WaitVisible(chromedp.CSS("table.audit")), shootSizes(shots, "audit"),
		chromedp.Navigate(e.ts.URL+"/audit?action=user."), chromedp.WaitVisible(chromedp.CSS("table.audit")))
	if got := text("table.audit tbody"); !strings.Contains(got, "user.disabled") || strings.Contains(got, "signin.") {
		t.Errorf("the audit page filtered by user.: %s", got)
	}

	// A forgotten password, signed out.
	do(chromedp.Navigate(e.ts.URL+"/account"), chromedp.WaitVisible(chromedp.CSS("form[action='/signout'] button")),
		chromedp.Click(chromedp.CSS("form[action='/signout'] button")), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.Click(chromedp.CSS(`a[href="/forgot"]`)), chromedp.WaitVisible(chromedp.ID("email")), shootSizes(shots, "forgot"),
		chromedp.SendKeys(chromedp.ID("email"), "root@example.org"), chromedp.Submit(chromedp.ID("email")),
		chromedp.WaitVisible(chromedp.CSS("p.done")), shootSizes(shots, "forgot-sent"))
}
