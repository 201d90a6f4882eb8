package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"hangar/config"
)

// hostileProvider is an OpenID provider that signs what a test asks: the
// real flow reaches it (discovery, keys, the authorization redirect, the
// code exchange), and its ID token is wrong in one way.
type hostileProvider struct {
	URL  string
	key  *rsa.PrivateKey // the key it publishes
	mu   sync.Mutex
	mint func(nonce string) (jwt.Claims, string) // the claims, and the nonce to sign
	sign *rsa.PrivateKey                         // the key it signs with (another one: an unknown key)
	last string                                  // the last nonce it was asked for
}

func startHostileProvider(t *testing.T) *hostileProvider {
	t.Helper()
	p := &hostileProvider{}
	p.key, _ = rsa.GenerateKey(rand.Reader, 2048)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{"issuer": p.URL, "authorization_endpoint": p.URL + "/auth",
				"token_endpoint": p.URL + "/token", "jwks_uri": p.URL + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"},
				"end_session_endpoint": p.URL + "/logout"})
		case "/keys":
			json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
		case "/auth":
			q := r.URL.Query()
			p.last = q.Get("nonce")
			http.Redirect(w, r, q.Get("redirect_uri")+"?code=c0de&state="+q.Get("state"), http.StatusFound)
		case "/token":
			key := p.key
			if p.sign != nil {
				key = p.sign
			}
			sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
			claims, nonce := p.mint(p.last)
			raw, _ := jwt.Signed(sig).Claims(claims).Claims(map[string]any{"nonce": nonce, "preferred_username": "mallory", "email": "mallory@example.com", "email_verified": true}).Serialize()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": raw})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	p.URL = ts.URL
	return p
}

// An ID token with a wrong audience, issuer or nonce, expired, or signed
// by a key the provider does not publish is refused with a page that says
// so and an audit entry; only a right one signs in.
func TestOIDCRefusesBadTokens(t *testing.T) {
	p := startHostileProvider(t)
	e := newEnvWith(t, func(c *config.Config) {
		c.OIDC = []config.OIDC{{Name: "corp", Issuer: p.URL, ClientID: "hangar", ClientSecret: "s", Scopes: []string{"openid"},
			UsernameClaim: "preferred_username", GroupsClaim: "groups"}}
	})
	admin := e.adminToken()
	good := func() jwt.Claims {
		now := e.clock()
		return jwt.Claims{Issuer: p.URL, Subject: "s-1", Audience: jwt.Audience{"hangar"}, Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
			IssuedAt: jwt.NewNumericDate(now)}
	}
	cases := []struct {
		name    string
		mint    func(nonce string) (jwt.Claims, string)
		unknown bool
		ok      bool
	}{
		{"wrong audience", func(n string) (jwt.Claims, string) {
			c := good()
			c.Audience = jwt.Audience{"someone-else"}
			return c, n
		}, false, false},
		{"wrong issuer", func(n string) (jwt.Claims, string) { c := good(); c.Issuer = "https://evil.example"; return c, n }, false, false},
		{"expired", func(n string) (jwt.Claims, string) {
			c := good()
			c.Expiry = jwt.NewNumericDate(e.clock().Add(-time.Hour))
			return c, n
		}, false, false},
		{"unknown key", func(n string) (jwt.Claims, string) { return good(), n }, true, false},
		{"wrong nonce", func(string) (jwt.Claims, string) { return good(), "not-the-nonce" }, false, false},
		{"right", func(n string) (jwt.Claims, string) { return good(), n }, false, true},
	}
	var signedIn *cookiejar.Jar
	for _, tc := range cases {
		p.mu.Lock()
		p.mint = tc.mint
		p.sign = nil
		if tc.unknown {
			p.sign, _ = rsa.GenerateKey(rand.Reader, 2048)
		}
		p.mu.Unlock()
		jar, _ := cookiejar.New(nil)
		resp, err := (&http.Client{Jar: jar}).Get(e.ts.URL + "/signin/oidc/corp")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ok := resp.Request.URL.Path == "/" && resp.StatusCode == http.StatusOK
		if ok {
			signedIn = jar
		}
		if ok != tc.ok {
			t.Errorf("%s: %d at %s", tc.name, resp.StatusCode, resp.Request.URL.Path)
		}
		if !tc.ok && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tc.name, resp.StatusCode)
		}
	}
	failed := 0
	for _, en := range e.auditSince(admin, "") {
		if en.Action == "signin.failed" && en.Details["method"] == "oidc:corp" {
			failed++
		}
	}
	if failed != 5 {
		t.Errorf("%d signin.failed entries for the provider, want 5", failed)
	}
	// Signing out ends Hangar's session and offers the provider's.
	if signedIn == nil {
		t.Fatal("no sign-in to sign out of")
	}
	client := &http.Client{Jar: signedIn, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	account, err := client.Get(e.ts.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(account.Body)
	account.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatalf("no form on the account page: %s", page)
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/signout", strings.NewReader(url.Values{"csrf": {string(csrf[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	out, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if out.StatusCode != http.StatusSeeOther || out.Header.Get("Location") != "/signin?ended=corp" {
		t.Fatalf("sign-out: %d %s", out.StatusCode, out.Header.Get("Location"))
	}
	signin, err := client.Get(e.ts.URL + "/signin?ended=corp")
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(signin.Body)
	signin.Body.Close()
	want := p.URL + "/logout?client_id=hangar&amp;post_logout_redirect_uri=" + url.QueryEscape(e.ts.URL+"/signin")
	if !strings.Contains(string(page), want) || !strings.Contains(string(page), "Sign out of corp too") {
		t.Errorf("the sign-in page after signing out does not offer %s:\n%s", want, page)
	}
	if strings.Contains(e.logs.String(), "c0de") {
		t.Error("the log holds the authorization code")
	}
}
