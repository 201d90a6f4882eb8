package server

import (
	"errors"
	"net/http"
)

// The signed-in user's account page: change one's own password. It takes
// the current password (checked like a sign-in, under the same limits), and
// changing it ends every session of the user, as through the API; this
// browser gets a new one.

type accountForm struct {
	Error, Done string
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, c *call) error {
	var f accountForm
	if r.URL.Query().Get("changed") != "" {
		f.Done = "Your password was changed; your other sessions were signed out."
	}
	s.renderPage(w, r, http.StatusOK, "account", "Your account", c, f)
	return nil
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request, c *call) error {
	fail := func(status int, msg string) {
		s.renderPage(w, r, status, "account", "Your account", c, accountForm{Error: msg})
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
	if err := c.st.SetPassword(u.ID, hash, false); err != nil {
		return err
	}
	if err := s.startSession(w, r, c, u); err != nil {
		return err
	}
	http.Redirect(w, r, "/account?changed=1", http.StatusSeeOther)
	return nil
}
