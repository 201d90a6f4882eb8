package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"hangar/store"
)

// Signing in to the console and out of it: the API's sign-in, its session
// kept in a cookie.

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request, c *call) error {
	f := s.signinFormFor(c, r.URL.Query().Get("next"))
	if name := r.URL.Query().Get("ended"); name != "" {
		f.EndSession, f.EndSessionName = s.endSessionURL(name), name
	}
	s.renderPage(w, r, http.StatusOK, "signin", "Sign in", c, f)
	return nil
}

type signinForm struct {
	Username, Next, Error string
	Passkeys              bool     // the host can have passkeys: offer them
	Providers             []string // OpenID Connect providers, a button each
	// EndSession is where the provider the user signed out of ends its
	// own session, offered after Hangar's ended.
	EndSession, EndSessionName string
}

// signinFormFor is the sign-in form's fixed parts.
func (s *Server) signinFormFor(c *call, next string) signinForm {
	f := signinForm{Next: safeNext(next), Passkeys: passkeysPossible(c.base)}
	for _, o := range s.cfg.OIDC {
		f.Providers = append(f.Providers, o.Name)
	}
	return f
}

// signinSubmit checks the form like the API's login (same limits, same
// timing for unknown users) and starts a session in a cookie.
func (s *Server) signinSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	form := s.signinFormFor(c, r.PostForm.Get("next"))
	form.Username = r.PostForm.Get("username")
	u, err := s.signIn(r.Context(), c, s.clientIP(r), form.Username, r.PostForm.Get("password"))
	if err != nil {
		status := http.StatusUnauthorized
		form.Error = errSignInFailed.Error()
		if ae, _ := toAPIError(err); ae.Status == http.StatusTooManyRequests {
			setRetryAfter(w, err)
			status, form.Error = ae.Status, "Too many attempts: wait a minute and try again."
		} else if errors.Is(err, errDirectoryDown) {
			status, form.Error = http.StatusServiceUnavailable, "The company directory cannot be reached, so its people cannot sign in now. Try again in a few minutes; an administrator's local account still works."
		} else if !errors.Is(err, errBadCredentials) {
			return err
		}
		s.renderPage(w, r, status, "signin", "Sign in", c, form)
		return nil
	}
	if u.HasSecondFactor() {
		return s.askSecondFactor(w, r, c, u, form.Next)
	}
	if err := s.startSession(w, r, c, u, firstFactor(u)); err != nil {
		return err
	}
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
	return nil
}

func (s *Server) signoutSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().RevokeToken(c.who.id, c.who.token.Prefix); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	clearSessionCookie(w, r)
	if name, ok := strings.CutPrefix(c.who.token.Method, "oidc:"); ok && s.endSessionURL(name) != "" {
		http.Redirect(w, r, "/signin?ended="+url.QueryEscape(name), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
	return nil
}
