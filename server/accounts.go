package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"hangar/auth"
	"hangar/store"
)

// Handlers for who may do what: login sessions, users, service accounts, app
// tokens, workspace memberships, and the instance's token list.

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
// unknown-user path verifies against a dummy hash.
func (s *Server) login(w http.ResponseWriter, r *http.Request, c *call) {
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	// An attempt is taken from both buckets before the hash (so parallel
	// requests cannot all slip through) and given back if the password is
	// right. The username bucket is charged only for addresses within their
	// own limit: a flood of invented usernames from one address cannot
	// grow it.
	ip := s.clientIP(r).String()
	ipKey, userKey := ip, truncate(req.Username, 128)+"\x00"+ip
	ok, wait := s.loginPerIP.Allow(ipKey, now)
	if ok {
		if ok, wait = s.loginPerUser.Allow(userKey, now); !ok {
			s.loginPerIP.Refund(ipKey)
		}
	}
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		s.fail(w, r, &apiError{http.StatusTooManyRequests, "RATE_LIMITED", orgRateLimited, "too many login attempts; retry later"})
		return
	}

	u, err := s.store.UserByName(req.Username)
	hash := u.PasswordHash
	if errors.Is(err, store.ErrNotFound) {
		hash = s.dummyHash
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	match, verr := s.hasher.Verify(r.Context(), req.Password, hash)
	if err != nil || verr != nil || !match {
		if verr != nil && !errors.Is(verr, r.Context().Err()) {
			s.log.Error("password check failed", "user", u.ID, "err", verr)
		}
		s.fail(w, r, errBadCredentials)
		return
	}
	s.loginPerIP.Refund(ipKey)
	s.loginPerUser.Refund(userKey)
	plain, tok, err := s.store.CreateToken(store.Token{Kind: store.TokenSession, OwnerID: u.ID, Name: "login", ExpiresAt: now.Add(s.cfg.SessionTTL)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, loginResponse{Token: plain, ExpiresAt: tok.ExpiresAt})
}

// logout revokes the session token the request was made with.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *call) {
	if c.who.kind != store.TokenSession {
		s.fail(w, r, errBadRequest("only a login session can log out; revoke other tokens instead"))
		return
	}
	if err := s.store.RevokeToken(c.who.id, c.who.token.Prefix); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type userView struct {
	ID          string            `json:"id"`
	Username    string            `json:"username"`
	Admin       bool              `json:"admin"`
	Memberships map[string]string `json:"memberships"` // workspace slug → role
	CreatedAt   time.Time         `json:"createdAt"`
}

func (s *Server) viewUser(u store.User) (userView, error) {
	ms, err := s.slugMemberships(u.Memberships)
	return userView{ID: u.ID, Username: u.Username, Admin: u.Admin, Memberships: ms, CreatedAt: u.CreatedAt}, err
}

// slugMemberships rekeys memberships by workspace slug, for answers.
func (s *Server) slugMemberships(byID map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(byID))
	for id, role := range byID {
		ws, err := s.store.Workspace(id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[ws.Slug] = role
	}
	return out, nil
}

// hashPassword checks a new password's length (400 if wrong) and hashes it.
func (s *Server) hashPassword(r *http.Request, pw string) (string, error) {
	if err := auth.CheckPassword(pw); err != nil {
		return "", errBadRequest(err.Error())
	}
	return s.hasher.Hash(r.Context(), pw)
}

type createUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Admin    bool   `json:"admin"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c *call) {
	var req createUserRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	hash, err := s.hashPassword(r, req.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.store.CreateUser(store.User{Username: req.Username, PasswordHash: hash, Admin: req.Admin})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.viewUser(u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c *call) {
	users, err := s.store.Users()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		v, err := s.viewUser(u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

type passwordRequest struct {
	Password string `json:"password"`
}

// setPassword changes a user's password: the instance admin for anyone, a
// user for themself. All the user's sessions end.
func (s *Server) setPassword(w http.ResponseWriter, r *http.Request, c *call) {
	u, err := s.store.UserByName(c.params.ByName("username"))
	// Anyone but the instance admin gets one answer for every name but
	// their own, whether it exists or not: no way to enumerate users.
	if !c.who.admin && (err != nil || c.who.kind != store.TokenSession || c.who.id != u.ID) {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
		s.fail(w, r, errForbidden("only the user or an instance admin may change a password"))
		return
	}
	if err != nil {
		s.fail(w, r, notFoundAs(err, "user"))
		return
	}
	var req passwordRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	hash, err := s.hashPassword(r, req.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.SetPassword(u.ID, hash); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type tokenView struct {
	Prefix     string     `json:"prefix"`
	Kind       string     `json:"kind"`
	OwnerID    string     `json:"ownerId"`
	Name       string     `json:"name,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

func viewToken(t store.Token) tokenView {
	v := tokenView{Prefix: t.Prefix, Kind: t.Kind, OwnerID: t.OwnerID, Name: t.Name, CreatedAt: t.CreatedAt}
	if !t.ExpiresAt.IsZero() {
		v.ExpiresAt = &t.ExpiresAt
	}
	if !t.LastUsedAt.IsZero() {
		v.LastUsedAt = &t.LastUsedAt
	}
	return v
}

// newTokenResponse carries a token's plain form: the only time it is shown.
type newTokenResponse struct {
	tokenView
	Token string `json:"token"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c *call) {
	ts, err := s.store.AllTokens()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAll(ts, viewToken))
}

func (s *Server) revokeAnyToken(w http.ResponseWriter, r *http.Request, c *call) {
	if _, err := s.store.RevokeTokenByPrefix(c.params.ByName("prefix")); err != nil {
		s.fail(w, r, notFoundAs(err, "token"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type serviceAccountView struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	Role      string      `json:"role"` // in the workspace of the request
	CreatedAt time.Time   `json:"createdAt"`
	Tokens    []tokenView `json:"tokens"`
}

type createServiceAccountRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

type createServiceAccountResponse struct {
	ServiceAccount serviceAccountView `json:"serviceAccount"`
	Token          string             `json:"token"`
}

// createServiceAccount creates a service account with a role in the
// workspace and its first token, shown once.
func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request, c *call) {
	var req createServiceAccountRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Name == "" || len(req.Name) > 100 {
		s.fail(w, r, errBadRequest("name must be 1 to 100 characters"))
		return
	}
	if !auth.ValidRole(req.Role) {
		s.fail(w, r, errBadRequest("role must be viewer, ci, developer or admin"))
		return
	}
	sa, err := s.store.CreateServiceAccount(store.ServiceAccount{Name: req.Name, Memberships: map[string]string{c.ws.ID: req.Role}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	plain, tok, err := s.store.CreateToken(store.Token{Kind: store.TokenServiceAccount, OwnerID: sa.ID, Name: req.Name})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createServiceAccountResponse{
		ServiceAccount: serviceAccountView{ID: sa.ID, Name: sa.Name, Role: req.Role, CreatedAt: sa.CreatedAt, Tokens: []tokenView{viewToken(tok)}},
		Token:          plain,
	})
}

func (s *Server) listServiceAccounts(w http.ResponseWriter, r *http.Request, c *call) {
	all, err := s.store.ServiceAccounts()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []serviceAccountView{}
	for _, sa := range all {
		role, ok := sa.Memberships[c.ws.ID]
		if !ok {
			continue
		}
		ts, err := s.store.Tokens(sa.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out = append(out, serviceAccountView{ID: sa.ID, Name: sa.Name, Role: role, CreatedAt: sa.CreatedAt, Tokens: viewAll(ts, viewToken)})
	}
	writeJSON(w, http.StatusOK, out)
}

// workspaceServiceAccount returns the service account named by the path, if
// it is a member of the request's workspace; others are not found.
func (s *Server) workspaceServiceAccount(c *call) (store.ServiceAccount, error) {
	sa, err := s.store.ServiceAccount(c.params.ByName("id"))
	if err != nil {
		return sa, notFoundAs(err, "service account")
	}
	if _, ok := sa.Memberships[c.ws.ID]; !ok {
		return sa, errNotFound("service account")
	}
	return sa, nil
}

// deleteServiceAccount removes the account from the workspace; an account
// left with no workspace (and not an instance admin) is deleted with its
// tokens.
func (s *Server) deleteServiceAccount(w http.ResponseWriter, r *http.Request, c *call) {
	sa, err := s.workspaceServiceAccount(c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(sa.Memberships) == 1 && !sa.Admin {
		err = s.store.DeleteServiceAccount(sa.ID)
	} else {
		err = s.store.SetMembership(store.MemberServiceAccount, sa.ID, c.ws.ID, "")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type createTokenRequest struct {
	Name string `json:"name"`
}

// decodeOptionalJSON is decodeJSON for bodies that may be empty.
func decodeOptionalJSON(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decodeJSON(r, v)
}

// reachesBeyond reports whether a service account can do anything outside
// workspace wsID: a membership elsewhere, or instance admin. A token of it
// would carry that reach, so only an instance admin may mint or revoke its
// tokens or make it a member; a workspace admin manages the accounts that
// belong to their workspace alone.
func reachesBeyond(sa store.ServiceAccount, wsID string) bool {
	if sa.Admin {
		return true
	}
	for ws := range sa.Memberships {
		if ws != wsID {
			return true
		}
	}
	return false
}

// confinedServiceAccount is workspaceServiceAccount for changes a workspace
// admin may make only to an account of their workspace alone.
func (s *Server) confinedServiceAccount(c *call) (store.ServiceAccount, error) {
	sa, err := s.workspaceServiceAccount(c)
	if err == nil && !c.who.admin && reachesBeyond(sa, c.ws.ID) {
		err = errForbidden("this service account is not this workspace's alone (a member elsewhere, or an instance admin): only an instance admin may manage its tokens")
	}
	return sa, err
}

func (s *Server) createServiceAccountToken(w http.ResponseWriter, r *http.Request, c *call) {
	sa, err := s.confinedServiceAccount(c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req createTokenRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.issueToken(w, r, store.Token{Kind: store.TokenServiceAccount, OwnerID: sa.ID, Name: req.Name})
}

func (s *Server) revokeServiceAccountToken(w http.ResponseWriter, r *http.Request, c *call) {
	sa, err := s.confinedServiceAccount(c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.RevokeToken(sa.ID, c.params.ByName("prefix")); err != nil {
		s.fail(w, r, notFoundAs(err, "token"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, t store.Token) {
	plain, tok, err := s.store.CreateToken(t)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, newTokenResponse{tokenView: viewToken(tok), Token: plain})
}

func (s *Server) createAppToken(w http.ResponseWriter, r *http.Request, c *call) {
	var req createTokenRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.issueToken(w, r, store.Token{Kind: store.TokenApp, OwnerID: c.proj.ID, Name: req.Name})
}

func (s *Server) listAppTokens(w http.ResponseWriter, r *http.Request, c *call) {
	ts, err := s.store.Tokens(c.proj.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAll(ts, viewToken))
}

func (s *Server) revokeAppToken(w http.ResponseWriter, r *http.Request, c *call) {
	if err := s.store.RevokeToken(c.proj.ID, c.params.ByName("prefix")); err != nil {
		s.fail(w, r, notFoundAs(err, "token"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type memberView struct {
	Kind string `json:"kind"` // "user" or "service-account"
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, c *call) {
	users, err := s.store.Users()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sas, err := s.store.ServiceAccounts()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []memberView{}
	for _, u := range users {
		if role, ok := u.Memberships[c.ws.ID]; ok {
			out = append(out, memberView{store.MemberUser, u.ID, u.Username, role})
		}
	}
	for _, sa := range sas {
		if role, ok := sa.Memberships[c.ws.ID]; ok {
			out = append(out, memberView{store.MemberServiceAccount, sa.ID, sa.Name, role})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type setMemberRequest struct {
	Kind     string `json:"kind"`     // "user" (default) or "service-account"
	Username string `json:"username"` // for users
	ID       string `json:"id"`       // for service accounts
	Role     string `json:"role"`
}

// memberID resolves a member named by username (users) or ID.
func (s *Server) memberID(kind, nameOrID string) (string, error) {
	switch kind {
	case store.MemberUser:
		u, err := s.store.UserByName(nameOrID)
		return u.ID, notFoundAs(err, "user")
	case store.MemberServiceAccount:
		sa, err := s.store.ServiceAccount(nameOrID)
		return sa.ID, notFoundAs(err, "service account")
	}
	return "", errBadRequest(`kind must be "user" or "service-account"`)
}

// setMember gives a user or service account a role in the workspace.
func (s *Server) setMember(w http.ResponseWriter, r *http.Request, c *call) {
	var req setMemberRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Kind == "" {
		req.Kind = store.MemberUser
	}
	if !auth.ValidRole(req.Role) {
		s.fail(w, r, errBadRequest("role must be viewer, ci, developer or admin"))
		return
	}
	name := req.ID
	if req.Kind == store.MemberUser {
		name = req.Username
	}
	id, err := s.memberID(req.Kind, name)
	if err == nil && req.Kind == store.MemberServiceAccount && !c.who.admin {
		// A workspace admin could otherwise mint tokens for any account
		// made a member here, with whatever it may do elsewhere.
		if sa, _ := s.store.ServiceAccount(id); reachesBeyond(sa, c.ws.ID) {
			err = errForbidden("this service account belongs to another workspace (or is an instance admin): only an instance admin may add it")
		}
	}
	if err == nil {
		err = s.store.SetMembership(req.Kind, id, c.ws.ID, req.Role)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, memberView{Kind: req.Kind, ID: id, Name: name, Role: req.Role})
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, c *call) {
	kind := c.params.ByName("kind")
	id, err := s.memberID(kind, c.params.ByName("id"))
	if err == nil {
		err = s.store.SetMembership(kind, id, c.ws.ID, "")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
