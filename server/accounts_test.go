package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"hangar/config"
	"hangar/hangartest"
)

// newMailEnv is an env whose server mails through a real SMTP server.
func newMailEnv(t *testing.T) (*env, *hangartest.Mailpit) {
	mp := hangartest.StartMailpit(t, hangartest.MailpitOptions{})
	e := newEnvWith(t, func(c *config.Config) {
		c.SMTP = config.SMTP{Host: mp.Host, Port: mp.SMTPPort, TLS: "none", From: "Hangar <hangar@example.com>"}
	})
	return e, mp
}

var linkIn = regexp.MustCompile(`https?://[^\s"<>]+/(invite|reset|confirm-email)/(hgr_[A-Za-z0-9_-]+)`)

// mailedLink waits for the n-th mail, checks it is to addr, and returns the
// single-use link it carries and its token.
func mailedLink(t *testing.T, mp *hangartest.Mailpit, n int, addr string) (string, string) {
	t.Helper()
	got := mp.WaitFor(n)
	msg := mp.Message(got[0].ID)
	if len(msg.To) != 1 || msg.To[0].Address != addr {
		t.Fatalf("mail %d to %+v, want %s", n, msg.To, addr)
	}
	m := linkIn.FindStringSubmatch(msg.Text)
	if m == nil {
		t.Fatalf("no link in the mail's text: %q", msg.Text)
	}
	if !strings.Contains(msg.HTML, `href="`+m[0]+`"`) {
		t.Errorf("the HTML part does not link %s: %s", m[0], msg.HTML)
	}
	if h := msg.Headers["Auto-Submitted"]; len(h) != 1 || h[0] != "auto-generated" {
		t.Errorf("Auto-Submitted: %v", h)
	}
	return m[0], m[2]
}

// The whole life of an account: invited by e-mail, accepted, signed in,
// disabled (every credential refused), enabled, deleted.
func TestInvitationToDeletion(t *testing.T) {
	e, mp := newMailEnv(t)
	admin := e.adminToken()
	e.member(admin, "wade", "wade-password", "admin")
	wade := e.login("wade", "wade-password")

	var inv struct {
		InvitationID, Email, URL, ExpiresAt string
		Mailed                              bool
	}
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/invitation", wade, `{"email":"Ann@Example.ORG","role":"developer"}`, &inv)
	if inv.Email != "Ann@example.org" || !inv.Mailed || !strings.Contains(inv.URL, "/invite/hgr_") || inv.ExpiresAt == "" {
		t.Fatalf("invitation: %+v", inv)
	}
	url, token := mailedLink(t, mp, 1, "Ann@example.org")
	if url != inv.URL {
		t.Errorf("mailed %s, answered %s", url, inv.URL)
	}
	var pending []struct{ InvitationID, URL string }
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/invitation", wade, "", &pending)
	if len(pending) != 1 || pending[0].InvitationID != inv.InvitationID || pending[0].URL != "" {
		t.Errorf("pending: %+v", pending)
	}
	// A second invitation of the address is a conflict while one is pending.
	e.mustReq(http.StatusConflict, "POST", "/api/v1/workspace/acme/invitation", wade, `{"email":"ann@example.org","role":"viewer"}`, nil)
	for _, bad := range []string{`{"email":"ann@example.org","role":"owner"}`, `{"email":"ann@example.org\r\nBcc: x@y.z","role":"viewer"}`, `{"email":"Ann <a@b.co>","role":"viewer"}`} {
		e.mustReq(http.StatusBadRequest, "POST", "/api/v1/workspace/acme/invitation", wade, bad, nil)
	}

	e.mustReq(http.StatusBadRequest, "POST", "/api/v1/invitation/"+token+"/accept", "", `{"username":"ann","password":"short"}`, nil)
	e.mustReq(http.StatusCreated, "POST", "/api/v1/invitation/"+token+"/accept", "", `{"username":"ann","password":"ann-password"}`, nil)
	for _, again := range []string{token, token + "x", "hgr_unknown"} {
		code, body := e.req("POST", "/api/v1/invitation/"+again+"/accept", "", `{"username":"ann2","password":"ann-password"}`)
		if code != http.StatusGone || !strings.Contains(string(body), "LINK_EXPIRED") {
			t.Errorf("accepting %s: %d %s, want 410 LINK_EXPIRED", again, code, body)
		}
	}
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/invitation", wade, "", &pending)
	if len(pending) != 0 {
		t.Errorf("still pending: %+v", pending)
	}
	var members []struct{ Name, Role string }
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme/member", wade, "", &members)
	if !slicesContain(members, func(m struct{ Name, Role string }) bool { return m.Name == "ann" && m.Role == "developer" }) {
		t.Errorf("ann is not a developer of acme: %+v", members)
	}

	session := e.login("ann", "ann-password")
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme", session, "", nil)
	cookie := e.signIn("ann", "ann-password")
	if code, _, _ := e.getPage("/w/acme", cookie); code != http.StatusOK {
		t.Fatalf("console as ann: %d", code)
	}

	var u struct {
		Disabled   bool
		DisabledBy string
		Email      string
	}
	e.mustReq(http.StatusOK, "POST", "/api/v1/user/ann/disable", admin, "", &u)
	if !u.Disabled || u.DisabledBy != "admin" || u.Email != "Ann@example.org" {
		t.Errorf("disabled: %+v", u)
	}
	// Every credential stops at once: the API session, the console's, and
	// the password, which is refused exactly as a wrong one.
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace/acme", session, "", nil)
	if code, _, h := e.getPage("/w/acme", cookie); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/signin") {
		t.Errorf("console after disabling: %d %s", code, h.Get("Location"))
	}
	_, disabledAnswer := e.req("POST", "/api/v1/auth/login", "", `{"username":"ann","password":"ann-password"}`)
	_, wrongAnswer := e.req("POST", "/api/v1/auth/login", "", `{"username":"wade","password":"not-wades-password"}`)
	if string(disabledAnswer) != string(wrongAnswer) {
		t.Errorf("a disabled user's sign-in answers %s, a wrong password %s", disabledAnswer, wrongAnswer)
	}

	e.mustReq(http.StatusOK, "POST", "/api/v1/user/ann/enable", admin, "", nil)
	session = e.login("ann", "ann-password")
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace/acme", session, "", nil)

	e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/user/ann", admin, "", nil)
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace/acme", session, "", nil)
	e.mustReq(http.StatusUnauthorized, "POST", "/api/v1/auth/login", "", `{"username":"ann","password":"ann-password"}`, nil)
	e.mustReq(http.StatusNotFound, "DELETE", "/api/v1/user/ann", admin, "", nil)
	// Her address is free again.
	e.mustReq(http.StatusCreated, "POST", "/api/v1/workspace/acme/invitation", wade, `{"email":"ann@example.org","role":"viewer"}`, nil)

	var entries []string
	for _, en := range e.auditSince(admin, "") {
		if en.Target.Name == "ann" || en.Target.Name == "Ann@example.org" {
			entries = append(entries, en.Action)
		}
	}
	want := "user.invited user.created invitation.accepted member.added signin.succeeded signin.succeeded user.disabled signin.failed user.enabled signin.succeeded user.deleted signin.failed"
	if strings.Join(entries, " ") != want {
		t.Errorf("ann's audit trail:\n got %s\nwant %s", strings.Join(entries, " "), want)
	}
}

func slicesContain[T any](s []T, f func(T) bool) bool {
	for _, x := range s {
		if f(x) {
			return true
		}
	}
	return false
}

// The last instance admin who can sign in stays.
func TestLastAdminStays(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	for _, verb := range []string{"POST /api/v1/user/root/disable", "DELETE /api/v1/user/root"} {
		method, path, _ := strings.Cut(verb, " ")
		code, body := e.req(method, path, admin, "")
		if code != http.StatusConflict || !strings.Contains(string(body), "LAST_ADMIN") {
			t.Errorf("%s: %d %s, want 409 LAST_ADMIN", verb, code, body)
		}
	}
	e.newUser(admin, `{"username":"root2","password":"root-password","admin":true}`)
	e.mustReq(http.StatusOK, "POST", "/api/v1/user/root/disable", admin, "", nil)
	e.mustReq(http.StatusConflict, "DELETE", "/api/v1/user/root2", admin, "", nil)
}

// A forgotten password: the same answer for every address, a link only to
// a user's; the link sets a new password once and ends every session.
func TestForgotPassword(t *testing.T) {
	e, mp := newMailEnv(t)
	admin := e.adminToken()
	var inv struct{ URL string }
	e.mustReq(http.StatusCreated, "POST", "/api/v1/invitation", admin, `{"email":"bea@example.org"}`, &inv)
	_, token := mailedLink(t, mp, 1, "bea@example.org")
	e.mustReq(http.StatusCreated, "POST", "/api/v1/invitation/"+token+"/accept", "", `{"username":"bea","password":"bea-password"}`, nil)
	old := e.login("bea", "bea-password")

	codeUnknown, bodyUnknown := e.req("POST", "/api/v1/auth/forgot", "", `{"email":"nobody@example.org"}`)
	codeKnown, bodyKnown := e.req("POST", "/api/v1/auth/forgot", "", `{"email":"BEA@example.org"}`)
	if codeUnknown != http.StatusAccepted || codeKnown != codeUnknown || string(bodyKnown) != string(bodyUnknown) {
		t.Errorf("forgot: %d %s for a stranger, %d %s for bea", codeUnknown, bodyUnknown, codeKnown, bodyKnown)
	}
	_, reset := mailedLink(t, mp, 2, "bea@example.org")
	if n := len(mp.Messages()); n != 2 {
		t.Errorf("%d mails: the stranger's address got one", n)
	}
	e.mustReq(http.StatusNoContent, "POST", "/api/v1/auth/reset/"+reset, "", `{"password":"bea-new-password"}`, nil)
	e.mustReq(http.StatusGone, "POST", "/api/v1/auth/reset/"+reset, "", `{"password":"bea-other-password"}`, nil)
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace", old, "", nil)
	e.mustReq(http.StatusUnauthorized, "POST", "/api/v1/auth/login", "", `{"username":"bea","password":"bea-password"}`, nil)
	session := e.login("bea", "bea-new-password")
	resets := 0
	for _, en := range e.auditSince(admin, "") {
		if en.Action == "user.password_reset" && en.Actor.Name == "bea" && en.Target.Name == "bea" {
			resets++
		}
	}
	if resets != 1 {
		t.Errorf("%d user.password_reset entries by bea, want 1", resets)
	}

	// A new address is confirmed from that address.
	var change struct{ URL string }
	e.mustReq(http.StatusAccepted, "POST", "/api/v1/user/bea/email", session, `{"email":"bea@new.example.org"}`, &change)
	if change.URL != "" {
		t.Errorf("the confirmation link was answered though it was mailed: %s", change.URL)
	}
	_, confirm := mailedLink(t, mp, 3, "bea@new.example.org")
	var u struct{ Email string }
	e.mustReq(http.StatusOK, "POST", "/api/v1/auth/confirm-email/"+confirm, "", "", &u)
	if u.Email != "bea@new.example.org" {
		t.Errorf("address after confirming: %q", u.Email)
	}
	e.mustReq(http.StatusGone, "POST", "/api/v1/auth/confirm-email/"+confirm, "", "", nil)
}

// Without [smtp] nothing is mailed: links are answered to hand over, and
// a forgotten password is an admin's to reset.
func TestAccountsWithoutMail(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	var inv struct {
		URL    string
		Mailed bool
	}
	e.mustReq(http.StatusCreated, "POST", "/api/v1/invitation", admin, `{"email":"cid@example.org","admin":true}`, &inv)
	if inv.Mailed || !strings.HasPrefix(inv.URL, e.ts.URL+"/invite/hgr_") {
		t.Fatalf("invitation without mail: %+v", inv)
	}
	token := inv.URL[strings.LastIndex(inv.URL, "/")+1:]
	var u struct {
		Admin bool
		Email string
	}
	e.mustReq(http.StatusCreated, "POST", "/api/v1/invitation/"+token+"/accept", "", `{"username":"cid","password":"cid-password"}`, &u)
	if !u.Admin || u.Email != "cid@example.org" {
		t.Errorf("accepted: %+v", u)
	}
	e.mustReq(http.StatusNotImplemented, "POST", "/api/v1/auth/forgot", "", `{"email":"cid@example.org"}`, nil)
	session := e.login("cid", "cid-password")
	var change struct{ URL string }
	e.mustReq(http.StatusAccepted, "POST", "/api/v1/user/cid/email", session, `{"email":"cid@other.example.org"}`, &change)
	if !strings.Contains(change.URL, "/confirm-email/hgr_") {
		t.Errorf("no link to hand over: %+v", change)
	}
	// Revoked invitations are as dead as used ones.
	var second struct{ InvitationID, URL string }
	e.mustReq(http.StatusCreated, "POST", "/api/v1/invitation", admin, `{"email":"dan@example.org"}`, &second)
	e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/invitation/"+second.InvitationID, admin, "", nil)
	e.mustReq(http.StatusGone, "POST", "/api/v1/invitation/"+second.URL[strings.LastIndex(second.URL, "/")+1:]+"/accept", "", `{"username":"dan","password":"dan-password"}`, nil)
	// In the console too: the link is shown once, as a link, to hand over.
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	cookie := e.signIn("root", "root-password")
	resp := e.postForm("/invitations", cookie, url.Values{"csrf": {e.csrf(cookie.Value)}, "email": {"eve@example.org"}}, "same-origin")
	first, reload := e.followShown(resp, cookie)
	if !strings.Contains(first, `id="newlink"`) || !strings.Contains(first, "/invite/hgr_") || !strings.Contains(first, "Invitation of eve@example.org") {
		t.Errorf("the console does not show the invitation's link: %s", first)
	}
	if strings.Contains(reload, "/invite/hgr_") {
		t.Error("the invitation's link is shown twice")
	}
	// A password an admin sets must be replaced before anything else.
	e.mustReq(http.StatusNoContent, "PUT", "/api/v1/user/cid/password", admin, `{"password":"set-by-admin"}`, nil)
	session = e.login("cid", "set-by-admin")
	code, body := e.req("GET", "/api/v1/workspace", session, "")
	if code != http.StatusForbidden || !strings.Contains(string(body), "PASSWORD_CHANGE_REQUIRED") {
		t.Errorf("before choosing a password: %d %s", code, body)
	}
	e.mustReq(http.StatusNoContent, "PUT", "/api/v1/user/cid/password", session, `{"password":"cids-own-password"}`, nil)
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace", e.login("cid", "cids-own-password"), "", nil)
}

// Tokens are listed with whose they are; a user sees their own sessions
// and ends one elsewhere.
func TestWhoOwnsWhat(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "wade", "wade-password", "admin")
	e.serviceAccount(admin, "acme", "deployer", "ci")
	e.appToken(admin, "app", "")
	here := e.login("wade", "wade-password")
	elsewhere := e.login("wade", "wade-password")

	var tokens []struct {
		Kind, Name string
		Owner      struct{ Kind, Name, Workspace string }
	}
	e.mustReq(http.StatusOK, "GET", "/api/v1/token", admin, "", &tokens)
	owners := map[string]bool{}
	for _, tk := range tokens {
		owners[tk.Kind+" of "+tk.Owner.Kind+" "+tk.Owner.Name+"@"+tk.Owner.Workspace] = true
	}
	for _, want := range []string{"session of user wade@", "service_account of service_account deployer@", "app of project app@acme"} {
		if !owners[want] {
			t.Errorf("no %s among %v", want, owners)
		}
	}

	var sessions []struct {
		Prefix  string
		Current bool
		Method  string
	}
	e.mustReq(http.StatusOK, "GET", "/api/v1/auth/session", here, "", &sessions)
	current := 0
	for _, s := range sessions {
		if s.Current {
			current++
		}
		if s.Method != "password" {
			t.Errorf("session %s: method %q", s.Prefix, s.Method)
		}
	}
	if len(sessions) != 2 || current != 1 { // choosing a password ended the helper's
		t.Fatalf("sessions: %+v", sessions)
	}
	e.mustReq(http.StatusNoContent, "DELETE", "/api/v1/auth/session/"+elsewhere[4:12], here, "", nil)
	e.mustReq(http.StatusUnauthorized, "GET", "/api/v1/workspace", elsewhere, "", nil)
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace", here, "", nil)
	// Another user's session is not found.
	e.member(admin, "vic", "vic-password", "viewer")
	vic := e.login("vic", "vic-password")
	e.mustReq(http.StatusNotFound, "DELETE", "/api/v1/auth/session/"+here[4:12], vic, "", nil)
}
