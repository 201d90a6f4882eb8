package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"hangar/store"
)

// Second factors in the console: the sign-in's second step (after the
// password, a code or a passkey), and setting them up on the account
// page. The operations are in ops_factors.go (and passkeys.go).

// secondCookie holds a sign-in half done: a single-use ticket for a few
// minutes, only for the sign-in pages.
const secondCookie = "hangar_second_factor"

type secondForm struct {
	Next, Error string
	TOTP        bool // the user has an authenticator
	Passkey     bool // and/or passkeys
}

// askSecondFactor starts the second step: the password was right.
func (s *Server) askSecondFactor(w http.ResponseWriter, r *http.Request, c *call, u store.User, next string) error {
	plain, _, err := c.as(u).CreateTicket(store.Ticket{Kind: store.TicketSecondFactor, UserID: u.ID, Email: u.Email}, nil)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: secondCookie, Value: plain, Path: "/signin", MaxAge: int(store.SecondFactorTTL.Seconds()),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/signin/second?next="+url.QueryEscape(next), http.StatusSeeOther)
	return nil
}

// halfSignedIn is the user whose password was right in this browser a
// few minutes ago, if any.
func (s *Server) halfSignedIn(r *http.Request) (store.User, string, bool) {
	ck, err := r.Cookie(secondCookie)
	if err != nil {
		return store.User{}, "", false
	}
	t, err := s.store.TicketByPlain(ck.Value, store.TicketSecondFactor)
	if err != nil {
		return store.User{}, "", false
	}
	u, err := s.store.User(t.UserID)
	if err != nil || u.Disabled {
		return store.User{}, "", false
	}
	return u, ck.Value, true
}

func (s *Server) secondPage(w http.ResponseWriter, r *http.Request, c *call) error {
	u, _, ok := s.halfSignedIn(r)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	s.renderPage(w, r, http.StatusOK, "second", "Sign in", c, secondForm{Next: safeNext(r.URL.Query().Get("next")), TOTP: u.TOTPSecret != "", Passkey: len(u.Passkeys) > 0})
	return nil
}

func (s *Server) secondSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	u, plain, ok := s.halfSignedIn(r)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	form := secondForm{Next: safeNext(r.PostForm.Get("next")), TOTP: u.TOTPSecret != "", Passkey: len(u.Passkeys) > 0}
	method, err := s.secondFactor(c, s.clientIP(r), u, r.PostForm.Get("code"))
	if err != nil {
		ae, _ := toAPIError(err)
		switch {
		case errors.Is(err, errBadCode):
			form.Error = "That code is wrong, or was already used."
		case ae.Status == http.StatusTooManyRequests:
			setRetryAfter(w, err)
			form.Error = "Too many attempts: wait a minute and try again."
		default:
			return err
		}
		s.renderPage(w, r, ae.Status, "second", "Sign in", c, form)
		return nil
	}
	return s.finishSignIn(w, r, c, u, plain, method, form.Next)
}

// finishSignIn ends the second step: the ticket used up, a session
// started.
func (s *Server) finishSignIn(w http.ResponseWriter, r *http.Request, c *call, u store.User, ticket, method, next string) error {
	if err := s.store.EndTicket(ticket, store.TicketSecondFactor); err != nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther) // used meanwhile, or expired
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: secondCookie, Value: "", Path: "/signin", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	if err := s.startSession(w, r, c, u, method); err != nil {
		return err
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// The account page's second factors.

type totpPage struct {
	Setup totpSetup
	Error string
}

// totpSetupPage shows the pending secret as a QR code and its text, and
// asks for a code from the app.
func (s *Server) totpSetupPage(w http.ResponseWriter, r *http.Request, c *call) error {
	setup, err := s.beginTOTP(c)
	if err != nil {
		return err
	}
	s.renderPage(w, r, http.StatusOK, "totp", "Set up an authenticator app", c, totpPage{Setup: setup})
	return nil
}

func (s *Server) totpConfirmSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	codes, err := s.confirmTOTP(c, r.PostForm.Get("code"))
	if err != nil {
		if ae, _ := toAPIError(err); ae.Status == http.StatusBadRequest {
			setup, serr := s.beginTOTP(c)
			if serr != nil {
				return serr
			}
			s.renderPage(w, r, http.StatusBadRequest, "totp", "Set up an authenticator app", c, totpPage{Setup: setup, Error: sentence(ae.Message)})
			return nil
		}
		return err
	}
	http.Redirect(w, r, "/account?factor=totp&"+s.showOnce(c, strings.Join(codes, " "), "recovery"), http.StatusSeeOther)
	return nil
}

func (s *Server) totpRemoveSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().RemoveTOTP(c.who.id); err != nil {
		return notFoundAs(err, "authenticator")
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}

func (s *Server) recoveryRenewSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	codes, err := s.renewRecoveryCodes(c)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/account?"+s.showOnce(c, strings.Join(codes, " "), "recovery"), http.StatusSeeOther)
	return nil
}
