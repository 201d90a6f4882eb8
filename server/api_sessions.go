package server

import (
	"net/http"
	"time"

	"hangar/store"
)

// Login sessions: a username and password exchanged for a session token,
// and its end.

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

var errBadCredentials = &apiError{http.StatusUnauthorized, "INVALID_CREDENTIALS", orgNoAuth, "invalid username or password"}

// errPasswordChange answers a user whose password an admin set, on every
// route but the ones that change it.
var errPasswordChange = &apiError{http.StatusForbidden, "PASSWORD_CHANGE_REQUIRED", orgForbidden, "choose your own password first: PUT /api/v1/user/{you}/password"}

// login exchanges a username and password for a session token. An unknown
// user and a wrong password get the same answer after the same work: the
// unknown-user path verifies against an unmatchable hash with the same
// parameters (auth.Hasher.Unmatchable).
func (s *Server) login(w http.ResponseWriter, r *http.Request, c *call) error {
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, err := s.signIn(r.Context(), c, s.clientIP(r), req.Username, req.Password)
	if err != nil {
		return err
	}
	now := s.now()
	plain, tok, err := c.as(u).CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, Name: "login", ExpiresAt: now.Add(s.cfg.SessionTTL)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, loginResponse{Token: plain, ExpiresAt: tok.ExpiresAt})
	return nil
}

// logout revokes the session token the request was made with.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.who.kind != store.TokenSession {
		return errBadRequest("only a login session can log out; revoke other tokens instead")
	}
	if err := c.st.RevokeToken(c.who.id, c.who.token.Prefix); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
