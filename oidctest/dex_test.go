// Package oidctest signs people in to Hangar through a real OpenID
// Connect provider, Dex, embedded in the test. It is a module of its own:
// Dex's dependencies stay out of Hangar's.
package oidctest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	gosundheit "github.com/AppsFlyer/go-sundheit"
	dex "github.com/dexidp/dex/server"
	"github.com/dexidp/dex/server/signer"
	"github.com/dexidp/dex/server/tokens"
	"github.com/dexidp/dex/storage"
	"github.com/dexidp/dex/storage/memory"
	"github.com/dexidp/dex/web"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"crypto/rand"
	"crypto/rsa"

	"hangar/config"
	"hangar/depot"
	"hangar/server"
	"hangar/store"
)

// provider is a Dex with one client (Hangar) and password users.
type provider struct {
	URL     string
	storage storage.Storage
}

func startDex(t *testing.T, hangarURL string, users ...storage.Password) *provider {
	t.Helper()
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	st := memory.New(log)
	st = storage.WithStaticClients(st, []storage.Client{{ID: "hangar", Secret: "hangar-secret", Name: "Hangar",
		RedirectURIs: []string{hangarURL + "/signin/oidc/dex/callback"}}})
	for _, u := range users {
		hash, err := bcrypt.GenerateFromPassword(u.Hash, 10) // Dex refuses cheaper hashes
		if err != nil {
			t.Fatal(err)
		}
		u.Hash = hash
		// In the storage, not static: a test changes their groups.
		if err := st.CreatePassword(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateConnector(context.Background(), storage.Connector{ID: "local", Type: "local", Name: "Email"}); err != nil {
		t.Fatal(err)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	sig, err := signer.NewMockSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dex.NewServer(t.Context(), dex.Config{Issuer: ts.URL, Storage: st, Web: dex.WebConfig{WebFS: web.FS()},
		Logger: log, PrometheusRegistry: prometheus.NewRegistry(), HealthChecker: gosundheit.New(),
		SkipApprovalScreen: true, Signer: sig, PasswordConnector: "local",
		RefreshTokenPolicy: tokens.NewRefreshStrategy(true, 0, 0, 0, nil)})
	if err != nil {
		t.Fatal(err)
	}
	h = srv
	return &provider{URL: ts.URL, storage: st}
}

// hangar is a Hangar server over a data directory, whose people sign in
// with Dex: engineering are acme's developers, qa its viewers.
type hangar struct {
	URL   string
	store *store.Store
}

func startHangar(t *testing.T, hangarURL func() string, dexURL func() string, mux *http.Handler) *hangar {
	t.Helper()
	cfg := config.Default()
	cfg.PublicURL = hangarURL()
	cfg.DataDir = t.TempDir()
	cfg.OIDC = []config.OIDC{{Name: "dex", Issuer: dexURL(), ClientID: "hangar", ClientSecret: "hangar-secret",
		Scopes: []string{"openid", "profile", "email", "groups"}, UsernameClaim: "preferred_username", GroupsClaim: "groups"}}
	cfg.GroupRoles = []config.GroupRole{{Group: "engineering", Workspace: "acme", Role: "developer"}, {Group: "qa", Workspace: "acme", Role: "viewer"}}
	// Everyone must have a second factor: the provider's people have its
	// own, and are not asked to set one up here (they land where they were
	// going).
	cfg.RequireSecondFactor = "everyone"
	d, err := depot.Open(filepath.Join(cfg.DataDir, "data"), depot.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Store().CreateWorkspace(store.Workspace{Slug: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Depot: d, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	*mux = srv
	return &hangar{URL: cfg.PublicURL, store: d.Store()}
}

// signIn goes through the whole flow as a browser would: Hangar's button,
// Dex's login form, back to Hangar. It returns the last answer and the
// callback URL the browser was sent to.
func signIn(t *testing.T, h *hangar, login, password string) (*http.Response, string, *http.Client) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var callback string
	client := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if strings.Contains(r.URL.Path, "/signin/oidc/dex/callback") {
			callback = r.URL.String()
		}
		return nil
	}}
	resp, err := client.Get(h.URL + "/signin/oidc/dex?next=/w/acme")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindSubmatch(body)
	if action == nil {
		t.Fatalf("no login form at %s: %s", resp.Request.URL, body)
	}
	to, _ := resp.Request.URL.Parse(strings.ReplaceAll(string(action[1]), "&amp;", "&"))
	resp, err = client.PostForm(to.String(), url.Values{"login": {login}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	return resp, callback, client
}

func TestSignInWithDex(t *testing.T) {
	var hangarMux http.Handler
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hangarMux.ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	alice := storage.Password{Email: "alice@example.com", Hash: []byte("alice-password"), Username: "alice", PreferredUsername: "alice",
		UserID: "u-alice", Groups: []string{"engineering", "qa"}}
	d := startDex(t, hs.URL, alice)
	h := startHangar(t, func() string { return hs.URL }, func() string { return d.URL }, &hangarMux)

	resp, callback, _ := signIn(t, h, "alice@example.com", "alice-password")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/w/acme" {
		t.Fatalf("after the flow: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	u, err := h.store.UserByName("alice")
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := h.store.WorkspaceBySlug("acme")
	if u.Source != "oidc:dex" || u.Email != "alice@example.com" || u.Memberships[ws.ID] != "developer" || u.RuleRoles[ws.ID] != "engineering" {
		t.Fatalf("alice: %+v", u)
	}

	// The callback cannot be replayed: its state was used.
	jar, _ := cookiejar.New(nil)
	replay, err := (&http.Client{Jar: jar}).Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(replay.Body)
	replay.Body.Close()
	if replay.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Start again") {
		t.Errorf("a replayed callback: %d %s", replay.StatusCode, body)
	}

	// Alice leaves engineering at the provider: at her next sign-in she is
	// a viewer.
	alice.Groups = []string{"qa"}
	if err := d.storage.UpdatePassword(context.Background(), alice.Email, func(p storage.Password) (storage.Password, error) {
		p.Groups = alice.Groups
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	resp, _, _ = signIn(t, h, "alice@example.com", "alice-password")
	resp.Body.Close()
	if u, _ = h.store.UserByName("alice"); u.Memberships[ws.ID] != "viewer" {
		t.Errorf("after leaving engineering: %+v", u.Memberships)
	}

	// A wrong password never reaches Hangar.
	resp, callback, _ = signIn(t, h, "alice@example.com", "wrong")
	resp.Body.Close()
	if callback != "" {
		t.Errorf("a wrong password came back to Hangar: %s", callback)
	}

	entries, _, _ := h.store.AuditLog(store.AuditQuery{Action: store.AuditSigninSucceeded})
	if len(entries) == 0 || entries[0].Details["method"] != "oidc:dex" {
		t.Errorf("sign-ins: %+v", entries)
	}
}
