package server

import (
	"errors"
	"net/http"
	"time"

	"hangar/auth"
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

// login exchanges a username and password for a session token. An unknown
// user and a wrong password get the same answer after the same work: the
// unknown-user path verifies against an unmatchable hash with the same
// parameters (auth.Hasher.Unmatchable).
func (s *Server) login(w http.ResponseWriter, r *http.Request, c *call) error {
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, err := s.signIn(w, r, req.Username, req.Password)
	if err != nil {
		return err
	}
	now := s.now()
	plain, tok, err := s.store.CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, Name: "login", ExpiresAt: now.Add(s.cfg.SessionTTL)})
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
	if err := s.store.RevokeToken(c.who.id, c.who.token.Prefix); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// signIn checks a username and password, under the login rate limits, for
// the API's login and the console's sign-in form alike. A refusal for the
// limits sets Retry-After on w.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, username, password string) (store.User, error) {
	// The username buckets are charged only for addresses within their own
	// limit: a flood of invented usernames from one address cannot grow
	// them.
	t, err := s.attempt(w, r, limits{&s.loginPerIP, &s.loginPerUser, &s.loginPerName, "too many login attempts; retry later"}, truncate(username, 128))
	if err != nil {
		return store.User{}, err
	}

	u, err := s.store.UserByName(username)
	hash := u.PasswordHash
	lane := t.lane
	if errors.Is(err, store.ErrNotFound) {
		hash, lane = s.dummyHash, auth.Normal // as long as a wrong password, never ahead of a real user
	} else if err != nil {
		return store.User{}, err
	}
	match, verr := s.hasher.VerifyIn(r.Context(), lane, password, hash)
	if errors.Is(verr, auth.ErrBusy) {
		t.refund()
		return store.User{}, tooMany(w, time.Second, "too many sign-ins at once; retry in a moment")
	}
	if err != nil || verr != nil || !match {
		if verr != nil && !errors.Is(verr, r.Context().Err()) {
			s.log.Error("password check failed", "user", u.ID, "err", verr)
		}
		return store.User{}, errBadCredentials
	}
	t.refund()
	return u, nil
}
