package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"hangar/store"
)

// Passkeys (WebAuthn) in the console: added on the account page, used as
// the second step of a password sign-in, or alone from the sign-in page
// (a discoverable credential names its user). The ceremonies are
// go-webauthn's; the browser's half is in console.js. The relying party
// is the host the console was reached on: an address (not a name) cannot
// be one, so passkeys are offered only on a host name.

// relyingParty is the WebAuthn relying party of a request's base URL, or
// nil when its host is an address.
func relyingParty(base string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(base)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return nil, errBadRequest("passkeys need the console on a host name (not an address)")
	}
	return webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: "Hangar", RPOrigins: []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationPreferred},
	})
}

// passkeysPossible says whether the console's host can have passkeys.
func passkeysPossible(base string) bool {
	_, err := relyingParty(base)
	return err == nil
}

// webauthnUser adapts a user to the library.
type webauthnUser struct{ u store.User }

func (w webauthnUser) WebAuthnID() []byte          { return []byte(w.u.ID) }
func (w webauthnUser) WebAuthnName() string        { return w.u.Username }
func (w webauthnUser) WebAuthnDisplayName() string { return w.u.Username }
func (w webauthnUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(w.u.Passkeys))
	for _, pk := range w.u.Passkeys {
		var c webauthn.Credential
		if json.Unmarshal(pk.Credential, &c) == nil {
			out = append(out, c)
		}
	}
	return out
}

// ceremonies keeps the challenges of ceremonies under way, each for a few
// minutes and used once, bounded in number (the oldest go first).
type ceremonies struct {
	mu sync.Mutex
	m  map[string]ceremony
}

type ceremony struct {
	data    webauthn.SessionData
	userID  string // registrations and second steps: whose
	name    string // registrations: the passkey's name
	expires time.Time
}

const ceremonyMax = 1000

func (cs *ceremonies) put(now time.Time, c ceremony) string {
	b := make([]byte, 16)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	c.expires = now.Add(5 * time.Minute)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = map[string]ceremony{}
	}
	// Expired ceremonies go, and when full some others (a flood of
	// begun ceremonies must not grow the map).
	for k, v := range cs.m {
		if len(cs.m) >= ceremonyMax || !now.Before(v.expires) {
			delete(cs.m, k)
		}
	}
	cs.m[id] = c
	return id
}

func (cs *ceremonies) take(now time.Time, id string) (ceremony, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.m[id]
	delete(cs.m, id)
	return c, ok && now.Before(c.expires)
}

// ceremonyCookie carries a ceremony's ID between its two requests.
const ceremonyCookie = "hangar_passkey"

func setCeremony(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: id, Path: "/", MaxAge: 300,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func (s *Server) takeCeremony(w http.ResponseWriter, r *http.Request) (ceremony, bool) {
	ck, err := r.Cookie(ceremonyCookie)
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	if err != nil {
		return ceremony{}, false
	}
	return s.ceremonies.take(s.now(), ck.Value)
}

var errCeremony = errBadRequest("the passkey step took too long or was already used: try again")

// passkeyBegin starts adding a passkey to the signed-in user.
func (s *Server) passkeyBegin(w http.ResponseWriter, r *http.Request, c *call) error {
	rp, err := relyingParty(c.base)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if name == "" || len(name) > 60 {
		return errBadRequest("give the passkey a name of 1 to 60 characters")
	}
	u, err := s.store.User(c.who.id)
	if err != nil {
		return err
	}
	wu := webauthnUser{u}
	var exclude []protocol.CredentialDescriptor
	for _, cred := range wu.WebAuthnCredentials() {
		exclude = append(exclude, cred.Descriptor())
	}
	creation, data, err := rp.BeginRegistration(wu, webauthn.WithExclusions(exclude))
	if err != nil {
		return err
	}
	setCeremony(w, r, s.ceremonies.put(s.now(), ceremony{data: *data, userID: u.ID, name: name}))
	writeJSON(w, http.StatusOK, creation)
	return nil
}

// passkeyFinish checks the browser's new credential and keeps it.
func (s *Server) passkeyFinish(w http.ResponseWriter, r *http.Request, c *call) error {
	cer, ok := s.takeCeremony(w, r)
	if !ok || cer.userID != c.who.id {
		return errCeremony
	}
	rp, err := relyingParty(c.base)
	if err != nil {
		return err
	}
	u, err := s.store.User(c.who.id)
	if err != nil {
		return err
	}
	cred, err := rp.FinishRegistration(webauthnUser{u}, cer.data, r)
	if err != nil {
		return errBadRequest("the passkey could not be checked: " + webauthnReason(err))
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	if err := c.st().AddPasskey(u.ID, store.Passkey{ID: base64.RawURLEncoding.EncodeToString(cred.ID), Name: cer.name, Credential: raw}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		Next string `json:"next"`
	}{"/account?factor=passkey"})
	return nil
}

// webauthnReason is what the library says went wrong, for the person.
func webauthnReason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return "it was refused"
}

func (s *Server) passkeyRemoveSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().RemovePasskey(c.who.id, c.params.ByName("id")); err != nil {
		return notFoundAs(err, "passkey")
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}

// signinPasskeyBegin starts a passkey sign-in: the second step of a
// password sign-in in this browser (its user's passkeys), or a sign-in by
// passkey alone (any discoverable passkey of this site).
func (s *Server) signinPasskeyBegin(w http.ResponseWriter, r *http.Request, c *call) error {
	rp, err := relyingParty(c.base)
	if err != nil {
		return err
	}
	var (
		assertion *protocol.CredentialAssertion
		data      *webauthn.SessionData
		cer       ceremony
	)
	if u, _, ok := s.halfSignedIn(r); ok {
		assertion, data, err = rp.BeginLogin(webauthnUser{u})
		cer.userID = u.ID
	} else {
		assertion, data, err = rp.BeginDiscoverableLogin()
	}
	if err != nil {
		return errBadRequest("no passkey can sign in here: " + webauthnReason(err))
	}
	cer.data = *data
	setCeremony(w, r, s.ceremonies.put(s.now(), cer))
	writeJSON(w, http.StatusOK, assertion)
	return nil
}

// signinPasskeyFinish checks the browser's assertion and starts a session.
func (s *Server) signinPasskeyFinish(w http.ResponseWriter, r *http.Request, c *call) error {
	cer, ok := s.takeCeremony(w, r)
	if !ok {
		return errCeremony
	}
	rp, err := relyingParty(c.base)
	if err != nil {
		return err
	}
	var (
		u    store.User
		cred *webauthn.Credential
	)
	if cer.userID != "" {
		half, ticket, ok := s.halfSignedIn(r)
		if !ok || half.ID != cer.userID {
			return errCeremony
		}
		if cred, err = rp.FinishLogin(webauthnUser{half}, cer.data, r); err != nil {
			return s.passkeyRefused(c, half, err)
		}
		if err := s.usePasskey(c, half, cred); err != nil {
			return err
		}
		if err := s.store.EndTicket(ticket, store.TicketSecondFactor); err != nil {
			return errCeremony
		}
		u = half
		return s.passkeySession(w, r, c, u, firstFactor(u)+"+passkey", r.URL.Query().Get("next"))
	}
	var found store.User
	_, cred, err = rp.FinishPasskeyLogin(func(_, userHandle []byte) (webauthn.User, error) {
		u, err := s.store.User(string(userHandle))
		if err != nil || u.Disabled {
			return nil, errors.New("no such user")
		}
		found = u
		return webauthnUser{u}, nil
	}, cer.data, r)
	if err != nil {
		return s.passkeyRefused(c, found, err)
	}
	if err := s.usePasskey(c, found, cred); err != nil {
		return err
	}
	return s.passkeySession(w, r, c, found, "passkey", r.URL.Query().Get("next"))
}

func (s *Server) usePasskey(c *call, u store.User, cred *webauthn.Credential) error {
	raw, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	return c.st().UsePasskey(u.ID, base64.RawURLEncoding.EncodeToString(cred.ID), raw)
}

func (s *Server) passkeyRefused(c *call, u store.User, err error) error {
	if u.ID != "" {
		a := c.st().Actor()
		a.Kind, a.ID, a.Name = store.ActorAnonymous, "", ""
		if rerr := c.st().As(a).Record(store.AuditSigninFailed, store.AuditTarget{Kind: "user", ID: u.ID, Name: u.Username}, "", map[string]any{"method": "passkey"}); rerr != nil {
			s.log.Error("audit log", "err", rerr)
		}
	}
	return &apiError{http.StatusUnauthorized, "INVALID_CREDENTIALS", orgNoAuth, "the passkey was not accepted: " + webauthnReason(err)}
}

// passkeySession starts the session of a passkey sign-in; the browser's
// script goes on to next.
func (s *Server) passkeySession(w http.ResponseWriter, r *http.Request, c *call, u store.User, method, next string) error {
	expires := s.now().Add(s.cfg.SessionTTL)
	plain, _, err := c.as(u).CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, Name: "console", Method: method, ExpiresAt: expires})
	if err != nil {
		return err
	}
	setSessionCookie(w, r, plain, expires)
	http.SetCookie(w, &http.Cookie{Name: secondCookie, Value: "", Path: "/signin", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, struct {
		Next string `json:"next"`
	}{safeNext(next)})
	return nil
}
