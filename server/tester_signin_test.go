package server_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"hangar/config"
	"hangar/hangartest"
	"hangar/server"
	"hangar/store"
)

// newTestersEnv is a server that mails (to mailpit) behind a trusted TLS
// proxy (so that iPhones are offered Install), with a processed IPA, a
// tester group qa (ana, bo) and a page for it, /d/acme/beta.
func newTestersEnv(t *testing.T, configure ...func(*config.Config)) (*env, *hangartest.Mailpit, string) {
	mp := hangartest.StartMailpit(t, hangartest.MailpitOptions{})
	e := newEnvWith(t, func(c *config.Config) {
		c.SMTP = config.SMTP{Host: mp.Host, Port: mp.SMTPPort, TLS: "none", From: "Hangar <hangar@example.com>"}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		for _, f := range configure {
			f(c)
		}
	})
	admin := e.adminToken()
	b := e.upload(admin, part{"version", "", "3.0"}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/tester-group", admin, `{"slug":"qa","members":["ana@example.com","bo@example.com"]}`, nil)
	d := e.distribution(admin, `{"slug":"beta","name":"Beta","security":"testers","groups":["qa"]}`)
	if d.URL != e.ts.URL+"/d/acme/beta" {
		t.Fatalf("distribution URL %s", d.URL)
	}
	return e, mp, admin
}

var testerLinkIn = regexp.MustCompile(`https?://[^\s"<>]+/t/signin/(hgr_[A-Za-z0-9_-]+)`)

// askLink posts a testers page's form for addr and returns the answer.
func (e *env) askLink(page, addr string) (int, string) {
	e.t.Helper()
	resp, body := e.submit(page+"/signin", nil, "application/x-www-form-urlencoded", url.Values{"email": {addr}}.Encode(), "same-origin")
	return resp.StatusCode, body
}

// signInTester asks for a link for addr on page, reads it from mailpit
// (the newest mail, which must be to addr) and spends it; it returns the
// tester's cookie.
func (e *env) signInTester(mp *hangartest.Mailpit, page, addr string) *http.Cookie {
	e.t.Helper()
	if code, _ := e.askLink(page, addr); code != http.StatusOK {
		e.t.Fatalf("asking for a link: %d", code)
	}
	if err := server.Settle(e.srv); err != nil {
		e.t.Fatal(err)
	}
	msgs := mp.Messages()
	if len(msgs) == 0 {
		e.t.Fatal("no mail")
	}
	msg := mp.Message(msgs[0].ID)
	if len(msg.To) != 1 || msg.To[0].Address != addr {
		e.t.Fatalf("the newest mail is to %+v, want %s", msg.To, addr)
	}
	m := testerLinkIn.FindStringSubmatch(msg.Text)
	if m == nil {
		e.t.Fatalf("no sign-in link in %q", msg.Text)
	}
	resp, _ := e.submit("/t/signin/"+m[1], nil, "application/x-www-form-urlencoded", "", "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
		e.t.Fatalf("spending the link: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == "hangar_tester" && c.HttpOnly && c.SameSite == http.SameSiteLaxMode {
			return c
		}
	}
	e.t.Fatal("no tester cookie")
	return nil
}

// A tester signs in by a mailed link and installs; the form's answer is
// the same whether or not the address is on the list, and only listed
// addresses get mail; a link works once; removal from the group, the
// workspace's sign-out and the group's deletion each end the tester's
// page and every URL it signed at once.
func TestTesterSignInByLink(t *testing.T) {
	e, mp, admin := newTestersEnv(t)
	const page = "/d/acme/beta"

	// Signed out: the form, and nothing of the page.
	code, body, _ := e.getPage(page, nil)
	if code != http.StatusOK || !strings.Contains(body, `id="email"`) || strings.Contains(body, "Beta") || strings.Contains(body, "Demo") {
		t.Fatalf("signed out: %d %s", code, body)
	}
	for _, sub := range []string{"/qr", "/enroll"} {
		if code, _, _ := e.getPage(page+sub, nil); code < 400 {
			t.Errorf("%s signed out: %d", sub, code)
		}
	}

	// The same answer for a listed address and a stranger; mail to the
	// listed one only.
	codeA, bodyA := e.askLink(page, "Ana@Example.com")
	codeS, bodyS := e.askLink(page, "stranger@example.com")
	if codeA != 200 || codeA != codeS || bodyA != bodyS || !strings.Contains(bodyA, `id="sent"`) {
		t.Fatalf("answers differ: %d %d\n%s\n%s", codeA, codeS, bodyA, bodyS)
	}
	if err := server.Settle(e.srv); err != nil {
		t.Fatal(err)
	}
	msgs := mp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails, want one to ana", len(msgs))
	}
	msg := mp.Message(msgs[0].ID)
	if msg.To[0].Address != "ana@example.com" || !strings.Contains(msg.Subject, "Beta") {
		t.Fatalf("mail to %+v, %q", msg.To, msg.Subject)
	}
	token := testerLinkIn.FindStringSubmatch(msg.Text)[1]

	// Bad input.
	if code, body := e.askLink(page, "not an address"); code != http.StatusBadRequest || !strings.Contains(body, `id="wrong"`) {
		t.Errorf("a bad address: %d", code)
	}
	if resp, _ := e.submit(page+"/signin", nil, "application/x-www-form-urlencoded", "email=ana%40example.com", "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site form: %d", resp.StatusCode)
	}

	// Opening the link spends nothing (mail scanners open links); the
	// button does, once.
	if code, body, _ := e.getPage("/t/signin/"+token, nil); code != 200 || !strings.Contains(body, `id="confirm"`) {
		t.Fatalf("the link's page: %d", code)
	}
	resp, _ := e.submit("/t/signin/"+token, nil, "application/x-www-form-urlencoded", "", "same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("spending the link: %d", resp.StatusCode)
	}
	var ana *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "hangar_tester" {
			ana = c
		}
	}
	if again, _ := e.submit("/t/signin/"+token, nil, "application/x-www-form-urlencoded", "", "same-origin"); again.StatusCode != http.StatusNotFound {
		t.Fatalf("a link spent twice: %d", again.StatusCode)
	}
	if !strings.HasPrefix(ana.Value, store.TesterSessionPrefix) || ana.Expires.Before(e.clock().Add(29*24*time.Hour)) {
		t.Fatalf("tester cookie %+v", ana)
	}
	var signedIn []auditEntry
	for _, en := range e.auditSince(admin, "") {
		if en.Action == store.AuditTesterSignedIn {
			signedIn = append(signedIn, en)
		}
	}
	if len(signedIn) != 1 || signedIn[0].Target.Name != "ana@example.com" {
		t.Fatalf("tester.signed_in entries: %+v", signedIn)
	}

	// In: the page names the build and whom it was opened as; Install
	// works, with everything it signs.
	code, body, _ = e.getPage(page, ana)
	if code != 200 || !strings.Contains(body, "Demo") || !strings.Contains(body, `id="tester">Signed in as ana@example.com`) {
		t.Fatalf("signed in: %d %s", code, body)
	}
	urls := issued(t, e.ts.URL+page, ana)

	// Out of the group: refused at once, page and URLs.
	e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme/tester-group/qa", admin, `{"remove":["ana@example.com"]}`, nil)
	dead(t, "after ana's removal", urls)
	if code, body, _ := e.getPage(page, ana); !strings.Contains(body, `id="other"`) || strings.Contains(body, "Demo") {
		t.Fatalf("removed: %d %s", code, body)
	}
	// Back in, signed out by the workspace: refused again.
	e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme/tester-group/qa", admin, `{"add":["ana@example.com"]}`, nil)
	urls = issued(t, e.ts.URL+page, ana)
	e.advance(time.Second)
	e.mustReq(http.StatusNoContent, "POST", "/api/v1/workspace/acme/tester-signout", admin, `{"email":"ana@example.com"}`, nil)
	dead(t, "after the workspace signed ana out", urls)
	if _, body, _ := e.getPage(page, ana); strings.Contains(body, "Demo") {
		t.Fatal("signed out by the workspace, still in")
	}

	// A new sign-in; then the group's deletion ends it.
	e.advance(time.Second)
	ana = e.signInTester(mp, page, "ana@example.com")
	urls = issued(t, e.ts.URL+page, ana)
	e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/workspace/acme/tester-group/qa", admin, "", nil)
	dead(t, "after the group's deletion", urls)

	// Links expire after 15 minutes.
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/tester-group", admin, `{"slug":"qa2","members":["bo@example.com"]}`, nil)
	e.mustReq(http.StatusOK, "PATCH", projPath+"/distribution/beta", admin, `{"groups":["qa2"]}`, nil)
	before := len(mp.Messages())
	e.askLink(page, "bo@example.com")
	if err := server.Settle(e.srv); err != nil {
		t.Fatal(err)
	}
	msgs = mp.Messages()
	if len(msgs) != before+1 {
		t.Fatalf("%d mails after bo asked, want %d", len(msgs), before+1)
	}
	late := testerLinkIn.FindStringSubmatch(mp.Message(msgs[0].ID).Text)[1]
	e.advance(16 * time.Minute)
	if resp, _ := e.submit("/t/signin/"+late, nil, "application/x-www-form-urlencoded", "", "same-origin"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a link 16 minutes old: %d", resp.StatusCode)
	}

	// Signing out ends the session on the server, not only the cookie.
	bo := e.signInTester(mp, page, "bo@example.com")
	if resp := e.postForm("/t/signout", bo, nil, "same-origin"); resp.StatusCode != 200 {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if _, body, _ := e.getPage(page, bo); strings.Contains(body, "Demo") {
		t.Fatal("signed out, the old cookie still opens the page")
	}
}

// Who opens a testers page, and what each gets: a matrix over the page and
// what it links to, for a stranger, a tester of another group, a tester of
// the page's group, a workspace member, a console user of another
// workspace whose address is on the list, and a disabled one.
func TestTestersPageAccess(t *testing.T) {
	e, mp, admin := newTestersEnv(t)
	const page = "/d/acme/beta"
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/tester-group", admin, `{"slug":"other","members":["olga@example.com"]}`, nil)
	e.distribution(admin, `{"slug":"other","security":"testers","groups":["other"]}`)
	ana := e.signInTester(mp, page, "ana@example.com")
	olga := e.signInTester(mp, "/d/acme/other", "olga@example.com")
	e.member(admin, "vera", "vera-password", "viewer")
	vera := e.signIn("vera", "vera-password")
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace", admin, `{"slug":"rival"}`, nil)
	e.newUser(admin, `{"username":"bo","password":"bo-password","email":"bo@example.com"}`)
	e.mustReq(http.StatusOK, "PUT", "/api/v1/workspace/rival/member", admin, `{"username":"bo","role":"viewer"}`, nil)
	bo := e.signIn("bo", "bo-password")
	e.newUser(admin, `{"username":"max","password":"max-password","email":"max@example.com"}`)
	e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme/tester-group/qa", admin, `{"add":["max@example.com"]}`, nil)
	max := e.signIn("max", "max-password")
	e.mustReq(http.StatusOK, "POST", "/api/v1/user/max/disable", admin, "", nil)

	for _, c := range []struct {
		who    string
		cookie *http.Cookie
		in     bool
	}{
		{"a stranger", nil, false},
		{"a tester of another group", olga, false},
		{"a tester of the group", ana, true},
		{"a workspace member", vera, true},
		{"a user elsewhere whose address is listed", bo, true},
		{"a disabled user whose address is listed", max, false},
	} {
		code, body, _ := e.getPage(page, c.cookie)
		if in := code == 200 && strings.Contains(body, "Demo"); in != c.in {
			t.Errorf("%s: in %v (%d), want %v", c.who, in, code, c.in)
		}
		qr, _, _ := e.getPage(page+"/qr", c.cookie)
		if in := qr == 200; in != c.in {
			t.Errorf("%s: QR code %d", c.who, qr)
		}
		if c.in {
			issued(t, e.ts.URL+page, c.cookie)
		}
	}
	// A download without a session: a browser is sent to the page, a
	// script told to sign in there.
	m := regexp.MustCompile(`id="download" href="([^"]+)"`).FindStringSubmatch(func() string { _, b, _ := e.getPage(page, ana); return b }())
	if m == nil {
		t.Fatal("no download on the page")
	}
	dl := strings.Replace(strings.ReplaceAll(m[1], "&amp;", "&"), e.ts.URL, "", 1)
	if resp, _ := get(t, e.ts.URL+dl, http.Header{"Accept": {"text/html"}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
		t.Errorf("a browser's download signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, b := e.req("GET", dl, "", "")
	if code != http.StatusForbidden {
		t.Errorf("a script's download signed out: %d", code)
	}
	wantWorkspaceError(t, b, "SIGN_IN_REQUIRED")
	if code, _, _ := e.getPage(dl, ana); code != http.StatusFound {
		t.Errorf("the tester's download: %d", code)
	}
}

// The page of my apps: a tester signed in by link sees the pages whose
// groups hold them, newest build first, with Install on an iPhone; a
// member sees their workspace's; signed out, a form that mails a link
// back to /apps only to an address on a list.
func TestAppsPage(t *testing.T) {
	e, mp, admin := newTestersEnv(t)
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/tester-group", admin, `{"slug":"other","members":["olga@example.com"]}`, nil)
	e.distribution(admin, `{"slug":"other","name":"Other","security":"testers","groups":["other"]}`)
	e.distribution(admin, `{"slug":"open","name":"Open","groups":["qa"]}`)      // public, for ana's group
	e.distribution(admin, `{"slug":"stranger","name":"Stranger"}`)              // public, no group of hers
	e.distribution(admin, `{"slug":"team","name":"Team","security":"members"}`) // members only

	code, body, _ := e.getPage("/apps", nil)
	if code != 200 || !strings.Contains(body, `action="/apps/signin"`) {
		t.Fatalf("signed out: %d %s", code, body)
	}
	// The form: the same answer for ana and a stranger, mail to ana only,
	// whose link comes back to /apps.
	ask := func(addr string) string {
		resp, body := e.submit("/apps/signin", nil, "application/x-www-form-urlencoded", url.Values{"email": {addr}}.Encode(), "same-origin")
		if resp.StatusCode != 200 {
			t.Fatalf("asking for %s: %d", addr, resp.StatusCode)
		}
		return body
	}
	if ask("ana@example.com") != ask("nobody@example.com") {
		t.Error("the answers differ")
	}
	if err := server.Settle(e.srv); err != nil {
		t.Fatal(err)
	}
	msgs := mp.Messages()
	if len(msgs) != 1 || msgs[0].To[0].Address != "ana@example.com" {
		t.Fatalf("mails: %+v", msgs)
	}
	token := testerLinkIn.FindStringSubmatch(mp.Message(msgs[0].ID).Text)[1]
	resp, _ := e.submit("/t/signin/"+token, nil, "application/x-www-form-urlencoded", "", "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/apps" {
		t.Fatalf("the link goes to %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ana := resp.Cookies()[0]

	names := func(body []byte) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<p class="meta">([^<·]+?)(?: ·|</p>)`).FindAllSubmatch(body, -1) {
			out = append(out, strings.TrimSpace(string(m[1])))
		}
		return out
	}
	resp, body2 := get(t, e.ts.URL+"/apps", overHTTPS(iPhoneUA), ana)
	wantCode(t, resp, body2, 200)
	if got := strings.Join(names(body2), ","); got != "Beta,Open" {
		t.Errorf("ana's apps: %s", got)
	}
	if !strings.Contains(string(body2), `class="button primary action-install" href="itms-services://`) {
		t.Errorf("no Install for ana's iPhone: %s", body2)
	}
	// Out of the group: her apps are gone at once.
	e.mustReq(http.StatusOK, "PATCH", "/api/v1/workspace/acme/tester-group/qa", admin, `{"remove":["ana@example.com"]}`, nil)
	if _, body, _ := e.getPage("/apps", ana); !strings.Contains(body, `id="no-apps"`) {
		t.Errorf("removed, ana still has apps: %s", body)
	}

	// A member sees the workspace's pages (not password ones).
	e.member(admin, "vera", "vera-password", "viewer")
	_, vbody, _ := e.getPage("/apps", e.signIn("vera", "vera-password"))
	got := names([]byte(vbody))
	slices.Sort(got)
	if strings.Join(got, ",") != "Beta,Open,Other,Stranger,Team" {
		t.Errorf("vera's apps: %v", got)
	}

	// The page shows at most 100 apps.
	for i := range 100 {
		e.distribution(admin, fmt.Sprintf(`{"slug":"bulk-%d","name":"Bulk %d"}`, i, i))
	}
	_, vbody, _ = e.getPage("/apps", e.signIn("vera", "vera-password"))
	if n := len(names([]byte(vbody))); n != 100 {
		t.Errorf("with 105 pages, vera's apps page shows %d", n)
	}
}

// Earlier builds on an iPhone offer Install, not only Download, with
// their release notes.
func TestHistoryInstall(t *testing.T) {
	e := newProxiedEnv(t)
	admin := e.adminToken()
	old := e.upload(admin, part{"version", "", "1.0"}, part{"notes", "", "First beta."}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(old.BuildID)
	b := e.upload(admin, part{"version", "", "1.1"}, part{"file", "Demo.ipa", demoIPA()})
	e.waitProcessed(b.BuildID)
	d := e.distribution(admin, `{"slug":"hist","showHistory":true}`)
	resp, body := get(t, d.URL, overHTTPS(iPhoneUA))
	wantCode(t, resp, body, 200)
	hist := string(body[strings.Index(string(body), `id="history"`):])
	if !strings.Contains(hist, `class="history-install" href="itms-services://`) || !strings.Contains(hist, "First beta.") {
		t.Errorf("earlier builds on an iPhone: %s", hist)
	}
	resp, body = get(t, d.URL, http.Header{"User-Agent": {desktopUA}})
	if resp.StatusCode != 200 || strings.Contains(string(body), "history-install") {
		t.Error("Install offered to a desktop")
	}
}

// Behind a TLS proxy the tester's cookie is Secure, as when Hangar serves
// HTTPS itself.
func TestTesterCookieSecureBehindProxy(t *testing.T) {
	e, mp, _ := newTestersEnv(t)
	e.askLink("/d/acme/beta", "bo@example.com")
	if err := server.Settle(e.srv); err != nil {
		t.Fatal(err)
	}
	token := testerLinkIn.FindStringSubmatch(mp.Message(mp.Messages()[0].ID).Text)[1]
	r, _ := http.NewRequest("POST", e.ts.URL+"/t/signin/"+token, nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("X-Forwarded-Proto", "https")
	resp, _ := sendNoRedirect(t, r)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("%d %+v", resp.StatusCode, resp.Cookies())
	}
}

// Asking for links is limited per address (3, then one every 5 minutes):
// beyond it the answer is the same and no mail goes; the limit is the
// address's, not the asker's network's own.
func TestTesterLinkLimitPerAddress(t *testing.T) {
	e, mp, _ := newTestersEnv(t)
	var answers []string
	for range 5 {
		code, body := e.askLink("/d/acme/beta", "ana@example.com")
		if code != 200 {
			t.Fatalf("asking: %d", code)
		}
		answers = append(answers, body)
	}
	if answers[4] != answers[0] {
		t.Error("the answer beyond the limit differs")
	}
	got, _ := mailsTo(t, e, mp, 0)
	wantMailed(t, "five asks", got, "ana@example.com", "ana@example.com", "ana@example.com")
	e.advance(5 * time.Minute)
	e.askLink("/d/acme/beta", "ana@example.com")
	got, _ = mailsTo(t, e, mp, 3)
	wantMailed(t, "five minutes later", got, "ana@example.com")
}
