package server

import (
	"errors"
	"hangar/store"
	"net/http"
	"net/url"
	"strings"
)

// The signed-in user's account page: change one's own password. It takes
// the current password (checked like a sign-in, under the same limits), and
// changing it ends every session of the user, as through the API; this
// browser gets a new one.

type accountForm struct {
	Error, Done string
	// Choose: an admin set the password; nothing else works until the
	// user chooses their own.
	Choose bool
	Email  string
	// ConfirmLink is an address change's confirmation link when no mail
	// carries it.
	ConfirmLink string
	Sessions    []sessionView
	// Second factors.
	TOTP          bool
	Passkeys      []store.Passkey
	RecoveryLeft  int
	RecoveryCodes []string // just made: shown once
	MustEnrol     bool     // the instance requires a second factor
	// PasskeysPossible: the console's host is a name (a relying party).
	PasskeysPossible bool
	// External: the user signs in with the directory, which keeps their
	// password.
	External bool
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, c *call) error {
	var f accountForm
	q := r.URL.Query()
	switch {
	case q.Get("changed") != "":
		f.Done = "Your password was changed; your other sessions were signed out."
	case q.Get("mailed") != "":
		f.Done = "A confirmation link is on its way to " + q.Get("mailed") + ": the address changes when you open it."
	}
	if secret, label, ok := s.takeShown(r, c); ok {
		if label == "recovery" {
			f.RecoveryCodes = strings.Fields(secret)
		} else {
			f.ConfirmLink = secret
		}
	}
	if q.Get("factor") == "totp" {
		f.Done = "Your authenticator app is set up: signing in now asks for its code."
	}
	return s.renderAccount(w, r, c, http.StatusOK, f)
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, c *call, status int, f accountForm) error {
	u, err := s.store.User(c.who.id)
	if err != nil {
		return err
	}
	f.Choose, f.Email = u.MustChangePassword, u.Email
	f.TOTP, f.Passkeys, f.RecoveryLeft, f.MustEnrol = u.TOTPSecret != "", u.Passkeys, len(u.RecoveryCodes), s.mustEnrol(u)
	f.PasskeysPossible = passkeysPossible(c.base)
	f.External = u.Source != ""
	if q := r.URL.Query(); q.Get("factor") == "passkey" {
		f.Done = "Your passkey is added: it signs you in, alone or after your password."
	}
	if f.Sessions, err = s.ownSessions(c); err != nil {
		return err
	}
	s.renderPage(w, r, status, "account", "Your account", c, f)
	return nil
}

// emailSubmit asks to change the user's address: confirmed from the new
// address (or, without mail, from the link shown here once).
func (s *Server) emailSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	addr := strings.TrimSpace(r.PostForm.Get("email"))
	link, err := s.changeEmail(c, addr)
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict {
			return s.renderAccount(w, r, c, ae.Status, accountForm{Error: sentence(ae.Message)})
		}
		return err
	}
	if link == "" {
		http.Redirect(w, r, "/account?mailed="+url.QueryEscape(addr), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/account?"+s.showOnce(c, link, addr), http.StatusSeeOther)
	return nil
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	fail := func(status int, msg string) {
		s.renderAccount(w, r, c, status, accountForm{Error: msg})
	}
	if u, err := s.store.User(c.who.id); err == nil && u.Source != "" {
		fail(http.StatusConflict, "Your password is the company directory's: change it there.")
		return nil
	}
	current, next := r.PostForm.Get("current"), r.PostForm.Get("password")
	if next != r.PostForm.Get("confirm") {
		fail(http.StatusBadRequest, "The two new passwords differ.")
		return nil
	}
	u, err := s.signIn(r.Context(), c, s.clientIP(r), c.who.name, current)
	switch {
	case errors.Is(err, errBadCredentials):
		fail(http.StatusUnauthorized, "The current password is wrong.")
		return nil
	case err != nil:
		if ae, _ := toAPIError(err); ae.Status == http.StatusTooManyRequests {
			setRetryAfter(w, err)
			fail(ae.Status, "Too many attempts: wait a minute and try again.")
			return nil
		}
		return err
	}
	hash, err := s.hashPassword(r, next)
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest {
			fail(http.StatusBadRequest, ae.Message)
			return nil
		}
		return err
	}
	if err := c.st().SetPassword(u.ID, hash, false); err != nil {
		return err
	}
	s.passwordChanged(u)
	if err := s.startSession(w, r, c, u, c.who.token.Method); err != nil {
		return err
	}
	http.Redirect(w, r, "/account?changed=1", http.StatusSeeOther)
	return nil
}

// endSessionSubmit ends one of the user's sessions (another browser).
func (s *Server) endSessionSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	prefix := c.params.ByName("prefix")
	if err := c.st().RevokeToken(c.who.id, prefix); err != nil {
		return notFoundAs(err, "session")
	}
	if prefix == c.who.token.Prefix {
		clearSessionCookie(w, r)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}
