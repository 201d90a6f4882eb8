package server

import (
	"net/http"
	"slices"
	"time"

	"hangar/store"
)

// Login sessions: a username and password exchanged for a session token,
// and its end.

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Code is the second factor of an account that has one: the
	// authenticator's code, or a recovery code.
	Code string `json:"code"`
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
	method := firstFactor(u)
	if u.HasSecondFactor() {
		switch {
		case u.TOTPSecret == "":
			return errPasskeyOnly
		case req.Code == "":
			return errSecondFactor
		}
		if method, err = s.secondFactor(c, s.clientIP(r), u, req.Code); err != nil {
			return err
		}
	}
	now := s.now()
	plain, tok, err := c.as(u).CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, Name: "login", Method: method, ExpiresAt: now.Add(s.cfg.SessionTTL)})
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
	if err := c.st().RevokeToken(c.who.id, c.who.token.Prefix); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionView is one of the caller's own sessions.
type sessionView struct {
	tokenView
	Current bool `json:"current"` // the session of this request
}

// ownSessions lists the calling user's sessions, newest first.
func (s *Server) ownSessions(c *call) ([]sessionView, error) {
	if c.who.kind != store.TokenSession {
		return nil, errBadRequest("only a user has sessions; a service account's tokens are listed with it")
	}
	ts, err := s.store.Tokens(c.who.id)
	if err != nil {
		return nil, err
	}
	out := make([]sessionView, 0, len(ts))
	for _, t := range ts {
		if t.Kind == store.TokenSession && (t.ExpiresAt.IsZero() || s.now().Before(t.ExpiresAt)) {
			out = append(out, sessionView{viewToken(t), t.Prefix == c.who.token.Prefix})
		}
	}
	slices.SortFunc(out, func(a, b sessionView) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

func (s *Server) listOwnSessions(w http.ResponseWriter, r *http.Request, c *call) error {
	out, err := s.ownSessions(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// endOwnSession ends one of the caller's sessions (another browser, a
// lost laptop); the session of the request too, as logout does.
func (s *Server) endOwnSession(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.who.kind != store.TokenSession {
		return errBadRequest("only a user has sessions")
	}
	if err := c.st().RevokeToken(c.who.id, c.params.ByName("prefix")); err != nil {
		return notFoundAs(err, "session")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
