package server_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"hangar/config"
)

// Second factors in Chromium, with its virtual authenticator standing in
// for a phone's passkey: set up an authenticator app from its QR page,
// keep the recovery codes, add a passkey; sign in with the passkey alone,
// and with a password then the passkey, and then the app's code.
// Screenshots of each page at phone and desktop sizes go to
// $CONSOLE_SHOTS.
// until polls a page condition for up to 5 s.
func until(ctx context.Context, js string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return true
		}
	}
	return false
}

func TestSecondFactorsInBrowser(t *testing.T) {
	needBrowser(t)
	// A relying party is a host name: the console is opened on localhost.
	e := newEnvWith(t, func(c *config.Config) { c.PublicURL = strings.Replace(c.PublicURL, "127.0.0.1", "localhost", 1) })
	base := strings.Replace(e.ts.URL, "127.0.0.1", "localhost", 1)
	admin := e.adminToken()
	e.member(admin, "pia", "pia-password", "developer")
	shots := shotsDir(t)
	ctx := browser(t, "")
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: new(bool)}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}}); err != nil {
		t.Fatal(err)
	}
	do, text := driver(t, ctx)
	signOut := func() {
		t.Helper()
		do(chromedp.Navigate(base+"/account"), chromedp.WaitVisible(chromedp.CSS("form[action='/signout'] button")),
			chromedp.Click(chromedp.CSS("form[action='/signout'] button")), chromedp.WaitVisible(chromedp.ID("username")))
	}
	password := func() {
		t.Helper()
		do(chromedp.SendKeys(chromedp.ID("username"), "pia"), chromedp.SendKeys(chromedp.ID("password"), "pia-password"),
			chromedp.Submit(chromedp.ID("password")))
	}

	do(chromedp.Navigate(base+"/signin"), chromedp.WaitVisible(chromedp.ID("username")))
	password()
	do(chromedp.WaitVisible(chromedp.CSS("a.who")),
		// The authenticator app, from its QR page.
		chromedp.Navigate(base+"/account/totp"), chromedp.WaitVisible(chromedp.CSS("img.qr")), shootSizes(shots, "totp-setup"))
	secret := strings.ReplaceAll(text("code.secret"), " ", "")
	do(chromedp.SendKeys(chromedp.ID("code"), totpCode(t, secret, e.clock())), chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("codes")), shootSizes(shots, "account-recovery-codes"))
	if n := len(regexp.MustCompile(`[a-z2-7]{5}-[a-z2-7]{5}`).FindAllString(text("#codes"), -1)); n != 10 {
		t.Fatalf("%d recovery codes on the page", n)
	}
	// A passkey, named.
	do(chromedp.SendKeys(chromedp.ID("passkeyname"), "Test laptop"), chromedp.Click(chromedp.CSS(`[data-passkey="add"]`)))
	if !until(ctx, `document.body.innerText.includes("passkey is added") || !document.getElementById("passkeyerror").hidden`) {
		t.Fatal("adding the passkey did not end")
	}
	if msg := text("main"); !strings.Contains(msg, "passkey is added") {
		t.Fatalf("adding the passkey: %s\n%s", msg, e.logs.String())
	}
	do(shootSizes(shots, "account-factors"))
	if got := text("table.factors"); !strings.Contains(got, "Test laptop") {
		t.Fatalf("the passkey is not listed: %s", got)
	}

	// The passkey alone.
	signOut()
	do(shootSizes(shots, "signin-passkey"), chromedp.Click(chromedp.ID("passkeysignin")), chromedp.WaitVisible(chromedp.CSS("a.who")))
	if got := text("a.who"); got != "pia" {
		t.Fatalf("signed in by passkey as %q", got)
	}
	// The password, then the passkey.
	signOut()
	password()
	do(chromedp.WaitVisible(chromedp.ID("usepasskey")), shootSizes(shots, "signin-second"),
		chromedp.Click(chromedp.ID("usepasskey")), chromedp.WaitVisible(chromedp.CSS("a.who")))
	// The password, then the app's code.
	signOut()
	password()
	e.advance(60 * 1e9)
	do(chromedp.WaitVisible(chromedp.ID("code")), chromedp.SendKeys(chromedp.ID("code"), totpCode(t, secret, e.clock())),
		chromedp.Submit(chromedp.ID("code")), chromedp.WaitVisible(chromedp.CSS("a.who")))

	methods := map[string]bool{}
	for _, en := range e.auditSince(admin, "") {
		if en.Action == "signin.succeeded" && en.Target.Name == "pia" {
			methods[fmtAny(en.Details["method"])] = true
		}
	}
	for _, m := range []string{"passkey", "password+passkey", "password+totp"} {
		if !methods[m] {
			t.Errorf("no sign-in by %s in the audit log: %v", m, methods)
		}
	}
}

// The sign-in page with two identity providers, and what a person sees
// when one cannot be reached.
func TestSignInProvidersInBrowser(t *testing.T) {
	needBrowser(t)
	e := newEnvWith(t, func(c *config.Config) {
		c.OIDC = []config.OIDC{
			{Name: "Keycloak", Issuer: "http://127.0.0.1:1/realms/acme", ClientID: "hangar", Scopes: []string{"openid"}, UsernameClaim: "preferred_username", GroupsClaim: "groups"},
			{Name: "Okta", Issuer: "http://127.0.0.1:1/oauth2/default", ClientID: "hangar", Scopes: []string{"openid"}, UsernameClaim: "preferred_username", GroupsClaim: "groups"},
		}
	})
	shots := shotsDir(t)
	ctx := browser(t, "")
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/signin"), chromedp.WaitVisible(chromedp.CSS(".providers a")), shootSizes(shots, "signin-providers"),
		chromedp.Click(chromedp.CSS(`a[href^="/signin/oidc/Keycloak"]`)), chromedp.WaitVisible(chromedp.CSS("p.error")), shootSizes(shots, "signin-provider-down")); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("p.error")))
	if err != nil || !strings.Contains(msg, "Keycloak cannot be reached") {
		t.Errorf("an unreachable provider: %q %v", msg, err)
	}
}
