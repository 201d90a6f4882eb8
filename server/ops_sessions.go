package server

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"hangar/auth"
	"hangar/store"
)

// Signing in, as the API's login and the console's form do: it knows no
// HTTP (the client's address comes in; a refusal says when to retry).

// signIn checks a username and password from a client, under the login
// rate limits, for the API's login and the console's sign-in form alike. A
// refusal for the limits says when to retry (tooMany).
func (s *Server) signIn(ctx context.Context, c *call, client netip.Addr, username, password string) (store.User, error) {
	// The username buckets are charged only for addresses within their own
	// limit: a flood of invented usernames from one address cannot grow
	// them.
	t, err := s.attempt(client, limits{&s.loginPerIP, &s.loginPerUser, &s.loginPerName, "too many login attempts; retry later"}, truncate(username, 128))
	if err != nil {
		return store.User{}, err
	}

	u, err := s.store.UserByName(username)
	if s.dir != nil && (errors.Is(err, store.ErrNotFound) || err == nil && u.Source == sourceLDAP) {
		// Not a local account: the directory's to say.
		return s.signInDirectory(ctx, c, t, username, password)
	}
	hash := u.PasswordHash
	lane := t.lane
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Source != "" {
		hash, lane = s.dummyHash, auth.Normal // as long as a wrong password, never ahead of a real user
	} else if err != nil {
		return store.User{}, err
	}
	match, verr := s.hasher.VerifyIn(ctx, lane, password, hash)
	if errors.Is(verr, auth.ErrBusy) {
		t.refund()
		return store.User{}, tooMany(time.Second, "too many sign-ins at once; retry in a moment")
	}
	// With external sign-in only, a local password opens only the
	// break-glass account: others are refused like a wrong password.
	refused := s.cfg.ExternalOnly && u.Username != s.cfg.BreakGlass
	if err != nil || verr != nil || !match || u.Disabled || u.Source != "" || refused {
		if verr != nil && !errors.Is(verr, ctx.Err()) {
			s.log.Error("password check failed", "user", u.ID, "err", verr)
		}
		s.signInFailed(c, username, u)
		return store.User{}, errBadCredentials
	}
	t.refund()
	return u, nil
}

// signInFailed records a refused sign-in: as the anonymous caller, naming
// the username tried (bounded) and the user, when there is one. A write
// per refusal is bounded by the sign-in limits.
func (s *Server) signInFailed(c *call, username string, u store.User) {
	target := store.AuditTarget{Kind: "user", ID: u.ID, Name: truncate(username, 64)}
	a := c.st().Actor()
	a.Kind, a.ID, a.Name = store.ActorAnonymous, "", ""
	if err := c.st().As(a).Record(store.AuditSigninFailed, target, "", map[string]any{"method": "password"}); err != nil {
		s.log.Error("audit log", "err", err)
	}
}
