package server_test

import (
	"encoding/base32"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"hangar/auth"
	"hangar/config"
)

// totpCode is the code of a user's authenticator secret at t.
func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(secret, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return auth.HOTP(key, auth.TOTPStep(at), 6)
}

// enrolTOTP sets up an authenticator for a signed-in console session
// through the account page, and returns its secret and recovery codes.
func (e *env) enrolTOTP(cookie *http.Cookie) (string, []string) {
	e.t.Helper()
	code, page, _ := e.getPage("/account/totp", cookie)
	m := regexp.MustCompile(`<code class="secret">([A-Z2-7 ]+)</code>`).FindStringSubmatch(page)
	if code != http.StatusOK || m == nil || !strings.Contains(page, `src="data:image/png;base64,`) {
		e.t.Fatalf("setup page: %d %s\n%s", code, page, e.logs.String())
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	resp := e.postForm("/account/totp", cookie, url.Values{"csrf": {e.csrf(cookie.Value)}, "code": {"000000"}}, "same-origin")
	if resp.StatusCode != http.StatusBadRequest {
		e.t.Fatalf("a wrong code: %d", resp.StatusCode)
	}
	resp = e.postForm("/account/totp", cookie, url.Values{"csrf": {e.csrf(cookie.Value)}, "code": {totpCode(e.t, secret, e.clock())}}, "same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("confirming: %d", resp.StatusCode)
	}
	_, account, _ := e.getPage(resp.Header.Get("Location"), cookie)
	codes := regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`).FindAllStringSubmatch(account, -1)
	if len(codes) != 10 {
		e.t.Fatalf("%d recovery codes shown: %s", len(codes), account)
	}
	var out []string
	for _, c := range codes {
		out = append(out, c[1])
	}
	if _, again, _ := e.getPage(resp.Header.Get("Location"), cookie); strings.Contains(again, out[0]) {
		e.t.Fatal("the recovery codes were shown twice")
	}
	return secret, out
}

// An authenticator app: set up from the account page, then asked for at
// every sign-in (API and console), each code good once, recovery codes
// good once each, wrong codes limited like passwords.
func TestTOTPSignIn(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.member(admin, "tia", "tia-password", "developer")
	cookie := e.signIn("tia", "tia-password")
	secret, recovery := e.enrolTOTP(cookie)

	login := func(body string) (int, string) {
		code, b := e.req("POST", "/api/v1/auth/login", "", body)
		return code, string(b)
	}
	if code, body := login(`{"username":"tia","password":"tia-password"}`); code != http.StatusUnauthorized || !strings.Contains(body, "SECOND_FACTOR_REQUIRED") {
		t.Fatalf("without a code: %d %s", code, body)
	}
	if code, body := login(`{"username":"tia","password":"wrong-password","code":"123456"}`); code != http.StatusUnauthorized || !strings.Contains(body, "INVALID_CREDENTIALS") {
		t.Fatalf("a wrong password with a code: %d %s", code, body)
	}
	e.advance(time.Minute) // the code that confirmed the setup is spent
	now := totpCode(t, secret, e.clock())
	if code, body := login(`{"username":"tia","password":"tia-password","code":"` + now + `"}`); code != http.StatusOK {
		t.Fatalf("with the code: %d %s", code, body)
	}
	if code, body := login(`{"username":"tia","password":"tia-password","code":"` + now + `"}`); code != http.StatusUnauthorized || !strings.Contains(body, "INVALID_CODE") {
		t.Fatalf("the same code again: %d %s", code, body)
	}
	if code, _ := login(`{"username":"tia","password":"tia-password","code":"` + recovery[0] + `"}`); code != http.StatusOK {
		t.Fatalf("a recovery code: %d", code)
	}
	if code, _ := login(`{"username":"tia","password":"tia-password","code":"` + strings.ToUpper(recovery[0]) + `"}`); code != http.StatusUnauthorized {
		t.Fatalf("a recovery code twice: %d", code)
	}

	// The console: the password, then the second step.
	resp := e.postForm("/signin", nil, url.Values{"username": {"tia"}, "password": {"tia-password"}, "next": {"/w/acme"}}, "same-origin")
	var half *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "hangar_session" {
			t.Fatal("a session before the second factor")
		}
		if c.Name == "hangar_second_factor" {
			half = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || half == nil || !strings.HasPrefix(resp.Header.Get("Location"), "/signin/second") {
		t.Fatalf("after the password: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	second := func(code string) *http.Response {
		r, _ := http.NewRequest("POST", e.ts.URL+"/signin/second", strings.NewReader(url.Values{"code": {code}, "next": {"/w/acme"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.AddCookie(half)
		resp, _ := sendNoRedirect(t, r)
		return resp
	}
	if r := second("000000"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong code: %d", r.StatusCode)
	}
	e.advance(30 * time.Second)
	r := second(totpCode(t, secret, e.clock()))
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/w/acme" {
		t.Fatalf("the right code: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == "hangar_session" {
			session = c
		}
	}
	if code, _, _ := e.getPage("/w/acme", session); session == nil || code != http.StatusOK {
		t.Fatalf("the console after the second step: %v %d", session, code)
	}
	// The half-done sign-in is used up.
	e.advance(30 * time.Second)
	if r := second(totpCode(t, secret, e.clock())); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/signin" {
		t.Fatalf("the second step twice: %d %s", r.StatusCode, r.Header.Get("Location"))
	}

	// Wrong codes are limited like passwords.
	limited := false
	for range 20 {
		if code, _ := login(`{"username":"tia","password":"tia-password","code":"999999"}`); code == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("20 wrong codes in a row were never limited")
	}

	methods := map[string]int{}
	for _, en := range e.auditSince(admin, "") {
		if en.Target.Name == "tia" {
			methods[en.Action+" "+fmtAny(en.Details["method"])]++
		}
	}
	for _, want := range []string{"user.second_factor_added totp", "signin.succeeded password+totp", "signin.succeeded password+recovery_code", "signin.failed second_factor"} {
		if methods[want] == 0 {
			t.Errorf("no %q in the audit log: %v", want, methods)
		}
	}
}

func fmtAny(v any) string {
	s, _ := v.(string)
	return s
}

// An instance that requires a second factor of its admins lets an admin
// without one do nothing but set one up.
func TestSecondFactorRequired(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.RequireSecondFactor = "admins" })
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	e.member(admin, "dev", "dev-password", "developer")
	root := e.login("root", "root-password")
	code, body := e.req("GET", "/api/v1/workspace", root, "")
	if code != http.StatusForbidden || !strings.Contains(string(body), "SECOND_FACTOR_SETUP_REQUIRED") {
		t.Fatalf("an admin without a second factor: %d %s", code, body)
	}
	e.mustReq(http.StatusOK, "GET", "/api/v1/workspace", e.login("dev", "dev-password"), "", nil)
	cookie := e.signIn("root", "root-password")
	if code, _, h := e.getPage("/", cookie); code != http.StatusSeeOther || h.Get("Location") != "/account" {
		t.Fatalf("the console sends them to their account: %d %s", code, h.Get("Location"))
	}
	e.enrolTOTP(cookie)
	if code, _, _ := e.getPage("/", cookie); code != http.StatusOK {
		t.Fatalf("after setting one up: %d", code)
	}
}
