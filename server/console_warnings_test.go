package server_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"hangar/config"
)

// The console tells instance admins, and only them, when the links it
// hands out name this machine's loopback or cannot install on an iPhone
// (plain HTTP), with the step that fixes each; a server reached at its
// public https:// name says nothing.
func TestReachWarnings(t *testing.T) {
	e := newEnv(t) // public_url is the test server's http://127.0.0.1:port
	admin := e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	e.member(admin, "vera", "vera-password", "admin")
	_, page, _ := e.getPage("/", e.signIn("root", "root-password"))
	if strings.Count(page, `class="warning"`) != 2 || !strings.Contains(page, "only this machine can open") || !strings.Contains(page, `tls_mode = &#34;local-ca&#34;`) {
		t.Errorf("an admin on a loopback, plain-HTTP server sees: %s", page)
	}
	if _, page, _ := e.getPage("/", e.signIn("vera", "vera-password")); strings.Contains(page, `class="warning"`) {
		t.Error("a workspace admin sees the instance's warnings")
	}

	e = newEnvWith(t, func(c *config.Config) {
		c.PublicURL, c.PublicURLDerived = "https://hangar.example", false
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	admin = e.adminToken()
	e.newUser(admin, `{"username":"root","password":"root-password","admin":true}`)
	r, _ := http.NewRequest("GET", e.ts.URL+"/", nil)
	r.Host = "hangar.example"
	r.Header.Set("X-Forwarded-Proto", "https")
	r.AddCookie(e.signIn("root", "root-password"))
	resp, body := sendNoRedirect(t, r)
	if resp.StatusCode != 200 || strings.Contains(string(body), `class="warning"`) {
		t.Errorf("behind https://hangar.example: %d %s", resp.StatusCode, body)
	}
}
