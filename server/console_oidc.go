package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"hangar/config"
	"hangar/mail"
	"hangar/store"
)

// Sign-in with OpenID Connect providers ([[oidc]]): the authorization code
// flow with PKCE. GET /signin/oidc/{name} sends the browser to the
// provider with a state, a nonce and a PKCE challenge, all single-use and
// bound to this browser by a cookie; the callback exchanges the code,
// verifies the ID token (signature by the provider's keys, issuer,
// audience, expiry: go-oidc) and its nonce, and signs the person in: made
// on their first sign-in from the verified claims, their roles from their
// groups (the [[group_role]] rules, as for the directory). A local user is
// linked only when link_verified_email says so and the provider vouches
// for the address.

// oidcProvider is a configured provider, discovered on first use (it may
// be down when Hangar starts).
type oidcProvider struct {
	cfg config.OIDC

	mu         sync.Mutex
	provider   *oidc.Provider
	endSession string
}

func (s *Server) oidcProvider(name string) (*oidcProvider, bool) {
	p, ok := s.oidc[strings.ToLower(name)]
	return p, ok
}

// discover returns the provider's metadata and OAuth configuration.
func (s *Server) discover(ctx context.Context, p *oidcProvider) (*oidc.Provider, *oauth2.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider == nil {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		prov, err := oidc.NewProvider(oidc.ClientContext(ctx, s.oidcClient), p.cfg.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", errProviderDown, err)
		}
		var meta struct {
			EndSession string `json:"end_session_endpoint"`
		}
		prov.Claims(&meta)
		p.provider, p.endSession = prov, meta.EndSession
	}
	secret := p.cfg.ClientSecret
	if p.cfg.ClientSecretFile != "" {
		b, err := os.ReadFile(p.cfg.ClientSecretFile)
		if err != nil {
			return nil, nil, fmt.Errorf("oidc %s: client_secret_file: %w", p.cfg.Name, err)
		}
		secret = strings.TrimRight(string(b), "\r\n")
	}
	return p.provider, &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: secret, Endpoint: p.provider.Endpoint(),
		RedirectURL: s.cfg.PublicURL + "/signin/oidc/" + p.cfg.Name + "/callback", Scopes: p.cfg.Scopes}, nil
}

var errProviderDown = errors.New("the identity provider cannot be reached")

// oidcFlow is a sign-in under way, found by its state.
type oidcFlow struct {
	provider, nonce, verifier, next string
	browser                         [32]byte // SHA-256 of the cookie that binds it to the browser
	expires                         time.Time
}

// oidcFlows keeps the flows under way, each for ten minutes and used
// once, bounded in number.
type oidcFlows struct {
	mu sync.Mutex
	m  map[string]oidcFlow
}

const (
	oidcFlowTTL  = 10 * time.Minute
	oidcFlowsMax = 1000
	oidcCookie   = "hangar_oidc"
)

func (fs *oidcFlows) put(now time.Time, state string, f oidcFlow) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.m == nil {
		fs.m = map[string]oidcFlow{}
	}
	for k, v := range fs.m {
		if len(fs.m) >= oidcFlowsMax || !now.Before(v.expires) {
			delete(fs.m, k)
		}
	}
	f.expires = now.Add(oidcFlowTTL)
	fs.m[state] = f
}

func (fs *oidcFlows) take(now time.Time, state string) (oidcFlow, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.m[state]
	delete(fs.m, state)
	return f, ok && now.Before(f.expires)
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oidcStart sends the browser to the provider.
func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request, c *call) error {
	p, ok := s.oidcProvider(c.params.ByName("name"))
	if !ok {
		return errNotFound("provider")
	}
	_, oc, err := s.discover(r.Context(), p)
	if err != nil {
		s.log.Error("oidc discovery", "provider", p.cfg.Name, "err", err)
		return s.oidcFailed(w, r, c, p, http.StatusServiceUnavailable, p.cfg.Name+" cannot be reached now. Try again in a few minutes, or sign in another way.", "unreachable")
	}
	state, nonce, verifier, bind := randomToken(), randomToken(), oauth2.GenerateVerifier(), randomToken()
	s.oidcFlows.put(s.now(), state, oidcFlow{provider: p.cfg.Name, nonce: nonce, verifier: verifier,
		next: safeNext(r.URL.Query().Get("next")), browser: sha256.Sum256([]byte(bind))})
	// Lax: the provider's redirect back is a top-level GET from its site.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: bind, Path: "/signin/oidc/", MaxAge: int(oidcFlowTTL.Seconds()),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	return nil
}

// Bounds on what a provider says.
const (
	maxIDToken = 64 << 10
	maxGroups  = 1000
	maxClaim   = 1024
)

// oidcCallback ends the flow: the code exchanged, the ID token verified,
// the person signed in.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request, c *call) error {
	p, ok := s.oidcProvider(c.params.ByName("name"))
	if !ok {
		return errNotFound("provider")
	}
	q := r.URL.Query()
	flow, ok := s.oidcFlows.take(s.now(), q.Get("state"))
	ck, err := r.Cookie(oidcCookie)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/signin/oidc/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	if !ok || err != nil || flow.provider != p.cfg.Name {
		return s.oidcFailed(w, r, c, p, http.StatusBadRequest, "This sign-in took too long, was already used, or began in another browser. Start again.", "unknown state")
	}
	if bind := sha256.Sum256([]byte(ck.Value)); subtle.ConstantTimeCompare(bind[:], flow.browser[:]) != 1 {
		return s.oidcFailed(w, r, c, p, http.StatusBadRequest, "This sign-in began in another browser. Start again.", "another browser")
	}
	if e := q.Get("error"); e != "" {
		return s.oidcFailed(w, r, c, p, http.StatusUnauthorized, p.cfg.Name+" did not sign you in ("+oneLine(e, 64)+").", "provider refused: "+oneLine(e, 64))
	}
	prov, oc, err := s.discover(r.Context(), p)
	if err != nil {
		return s.oidcFailed(w, r, c, p, http.StatusServiceUnavailable, p.cfg.Name+" cannot be reached now. Try again in a few minutes.", "unreachable")
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), s.oidcClient), 15*time.Second)
	defer cancel()
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(flow.verifier))
	if err != nil {
		s.log.Warn("oidc code exchange", "provider", p.cfg.Name, "err", err)
		return s.oidcFailed(w, r, c, p, http.StatusUnauthorized, p.cfg.Name+" did not confirm this sign-in. Start again.", "code exchange failed")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" || len(raw) > maxIDToken {
		return s.oidcFailed(w, r, c, p, http.StatusUnauthorized, p.cfg.Name+" sent no usable identity. Ask your administrator.", "no id_token")
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: s.now}).Verify(ctx, raw)
	if err != nil {
		s.log.Warn("oidc id token refused", "provider", p.cfg.Name, "err", err)
		return s.oidcFailed(w, r, c, p, http.StatusUnauthorized, "The identity "+p.cfg.Name+" sent could not be verified. Start again.", "id token: "+oneLine(err.Error(), 120))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flow.nonce)) != 1 {
		return s.oidcFailed(w, r, c, p, http.StatusUnauthorized, "The identity "+p.cfg.Name+" sent is not for this sign-in. Start again.", "nonce mismatch")
	}
	who, why := s.oidcClaims(p, idt)
	if why != "" {
		return s.oidcFailed(w, r, c, p, http.StatusForbidden, why, why)
	}
	u, why, err := s.oidcUser(c, p, idt.Subject, who)
	if err != nil {
		return err
	}
	if why != "" {
		return s.oidcFailed(w, r, c, p, http.StatusForbidden, why, why)
	}
	if err := s.startSession(w, r, c, u, "oidc:"+p.cfg.Name); err != nil {
		return err
	}
	http.Redirect(w, r, flow.next, http.StatusSeeOther)
	return nil
}

// oidcPerson is what a provider's verified claims say.
type oidcPerson struct {
	username, email string
	emailVerified   bool
	groups          []string
}

// oidcClaims reads and bounds the claims; why says what refuses them.
func (s *Server) oidcClaims(p *oidcProvider, idt *oidc.IDToken) (oidcPerson, string) {
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return oidcPerson{}, "The identity " + p.cfg.Name + " sent is not readable."
	}
	str := func(k string) string {
		v, _ := claims[k].(string)
		if len(v) > maxClaim {
			return ""
		}
		return v
	}
	who := oidcPerson{username: strings.ToLower(str(p.cfg.UsernameClaim)), email: str("email")}
	who.emailVerified, _ = claims["email_verified"].(bool)
	if who.email != "" {
		addr, err := mail.ValidAddress(who.email)
		if err != nil {
			who.email = ""
		} else {
			who.email = addr
		}
	}
	if list, ok := claims[p.cfg.GroupsClaim].([]any); ok {
		for _, g := range list {
			if gs, ok := g.(string); ok && gs != "" && len(gs) <= maxClaim && len(who.groups) < maxGroups {
				who.groups = append(who.groups, gs)
			}
		}
	}
	if !store.ValidUsername(who.username) {
		return who, p.cfg.Name + " gave no username Hangar can use (claim " + p.cfg.UsernameClaim + "). Ask your administrator."
	}
	if len(p.cfg.AllowedDomains) > 0 {
		_, domain, _ := strings.Cut(who.email, "@")
		allowed := false
		for _, d := range p.cfg.AllowedDomains {
			allowed = allowed || (who.emailVerified && strings.EqualFold(domain, d))
		}
		if !allowed {
			return who, "Your address is not one of those allowed to sign in here."
		}
	}
	return who, ""
}

// oidcUser is the user a provider's person signs in as: the one this
// provider made for their subject, a local user their verified address
// links to (only when the config allows it), or a new one. why says what
// refuses them.
func (s *Server) oidcUser(c *call, p *oidcProvider, subject string, who oidcPerson) (store.User, string, error) {
	source := "oidc:" + p.cfg.Name
	if p.cfg.LinkVerifiedEmail && who.emailVerified && who.email != "" {
		if local, err := s.store.UserByEmail(who.email); err == nil && local.Source == "" {
			if local.Disabled {
				return store.User{}, "Your account is disabled.", nil
			}
			s.log.Info("oidc sign-in linked to a local user by verified address", "provider", p.cfg.Name, "user", local.ID)
			return local, "", nil
		}
	}
	email := ""
	if who.emailVerified {
		email = who.email
	}
	u, err := c.st().UpsertExternalUser(source, subject, who.username, email)
	switch {
	case errors.Is(err, store.ErrConflict):
		return store.User{}, "The username " + who.username + " belongs to another account here. Ask your administrator.", nil
	case errors.Is(err, store.ErrInvalid):
		return store.User{}, p.cfg.Name + " gave no username Hangar can use.", nil
	case err != nil:
		return store.User{}, "", err
	}
	if u.Disabled {
		return store.User{}, "Your account is disabled.", nil
	}
	if _, err := s.applyRules(c.st(), u, who.groups); err != nil {
		return store.User{}, "", err
	}
	u, err = s.store.User(u.ID)
	return u, "", err
}

// oidcFailed answers a sign-in that did not happen, on a page that says
// why, and records it.
func (s *Server) oidcFailed(w http.ResponseWriter, r *http.Request, c *call, p *oidcProvider, status int, msg, reason string) error {
	a := c.st().Actor()
	a.Kind, a.ID, a.Name = store.ActorAnonymous, "", ""
	if err := c.st().As(a).Record(store.AuditSigninFailed, store.AuditTarget{Kind: "provider", Name: p.cfg.Name}, "",
		map[string]any{"method": "oidc:" + p.cfg.Name, "reason": oneLine(reason, 200)}); err != nil {
		s.log.Error("audit log", "err", err)
	}
	return s.renderLinkForm(w, r, c, status, "Sign in with "+p.cfg.Name, linkForm{Error: msg})
}

// endSessionURL is where a provider ends its own session, when it has
// that endpoint: offered after signing out of Hangar.
func (s *Server) endSessionURL(name string) string {
	p, ok := s.oidcProvider(name)
	if !ok {
		return ""
	}
	p.mu.Lock()
	end := p.endSession
	p.mu.Unlock()
	if end == "" {
		return ""
	}
	u, err := url.Parse(end)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", p.cfg.ClientID)
	q.Set("post_logout_redirect_uri", s.cfg.PublicURL+"/signin")
	u.RawQuery = q.Encode()
	return u.String()
}
