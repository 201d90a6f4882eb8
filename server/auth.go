package server

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"hangar/auth"
	"hangar/store"
)

// principal is who a request's bearer token speaks for.
type principal struct {
	token       store.Token
	kind        string // store.TokenSession, TokenServiceAccount or TokenApp
	id          string // user, service account, or (app tokens) project ID
	name        string
	admin       bool              // instance admin
	memberships map[string]string // workspace ID → role
	// App tokens only: the one project they may upload to, and its workspace.
	projectID, workspaceID string
	// mustChangePassword: a user whose password an admin set, who may
	// only choose their own (routes flagged ownAccount); mustEnrol: one
	// the instance requires a second factor of, who has none yet.
	mustChangePassword, mustEnrol bool
}

// permissions returns what p may do in a workspace (and, when projectID is
// set, one of its projects), and whether p may know that the workspace or
// project exists at all. Requests for resources p cannot see get 404, not
// 403, so that tokens cannot probe for other teams' slugs.
func (p *principal) permissions(workspaceID, projectID string) (auth.Permission, bool) {
	if p.admin {
		return auth.All, true
	}
	if p.kind == store.TokenApp {
		switch {
		case workspaceID != p.workspaceID:
			return 0, false
		case projectID == "":
			return 0, true // its own workspace: visible, nothing allowed
		case projectID != p.projectID:
			return 0, false
		}
		perms, _ := auth.ScopePermissions(p.token.Scope)
		return perms, true
	}
	role, ok := p.memberships[workspaceID]
	if !ok {
		return 0, false
	}
	perms, _ := auth.RolePermissions(role)
	return perms, true
}

// authenticate resolves the request's bearer token, or for a console page
// its session cookie (a page never takes a bearer token, and its cookie
// only a login session). Any failure (no header, another scheme, unknown,
// revoked or expired token, vanished owner) is the same 401: the client
// learns nothing about which tokens exist.
func (s *Server) authenticate(r *http.Request, fromCookie bool) (*principal, error) {
	var plain string
	if fromCookie {
		plain = sessionToken(r)
	} else {
		scheme, bearer, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(bearer) == "" {
			return nil, errUnauthorized
		}
		plain = strings.TrimSpace(bearer)
	}
	invalid := errInvalidToken
	if fromCookie {
		invalid = errUnauthorized // a page sends to the sign-in page either way
	}
	if !strings.HasPrefix(plain, store.TokenPrefix) {
		return nil, invalid
	}
	tok, err := s.store.TokenByPlain(plain)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrTokenExpired) {
		return nil, invalid
	}
	if err != nil {
		return nil, err
	}
	if fromCookie && tok.Kind != store.TokenSession {
		return nil, errUnauthorized
	}
	p, err := s.principalOf(tok, invalid)
	if err != nil {
		return nil, err
	}
	s.tokenUse.record(tok.Hash, s.now())
	return p, nil
}

// principalOf is who a valid token speaks for now: invalid if its owner
// is gone or disabled.
func (s *Server) principalOf(tok store.Token, invalid error) (*principal, error) {
	p := &principal{token: tok, kind: tok.Kind, id: tok.OwnerID}
	switch tok.Kind {
	case store.TokenSession:
		u, err := s.store.User(tok.OwnerID)
		if err != nil {
			return nil, ownerErr(err)
		}
		if u.Disabled {
			return nil, invalid // disabling revoked them; a race must not let one through
		}
		p.name, p.admin, p.memberships, p.mustChangePassword = u.Username, u.Admin, u.Memberships, u.MustChangePassword
		p.mustEnrol = s.mustEnrol(u)
	case store.TokenServiceAccount:
		sa, err := s.store.ServiceAccount(tok.OwnerID)
		if err != nil {
			return nil, ownerErr(err)
		}
		p.name, p.admin, p.memberships = sa.Name, sa.Admin, sa.Memberships
	case store.TokenApp:
		proj, err := s.store.Project(tok.OwnerID)
		if err != nil {
			return nil, ownerErr(err)
		}
		p.name, p.projectID, p.workspaceID = tok.Name, proj.ID, proj.WorkspaceID
	default:
		return nil, errInvalidToken
	}
	return p, nil
}

// stillMay says whether the token whose hash is h still exists and may
// do perm in a workspace's project: what was handed out on its strength
// (an App Center upload's own token) stops with it.
func (s *Server) stillMay(h []byte, workspaceID, projectID string, perm auth.Permission) (bool, error) {
	tok, err := s.store.TokenByHash(h)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrTokenExpired) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p, err := s.principalOf(tok, errInvalidToken)
	if errors.Is(err, errInvalidToken) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	perms, _ := p.permissions(workspaceID, projectID)
	return perms.Has(perm), nil
}

func ownerErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidToken
	}
	return err
}

// authorize applies a route's access rule to a request.
func (s *Server) authorize(r *http.Request, a access, c *call, fromCookie bool) error {
	if a.level == levelPublic {
		return nil
	}
	who, err := s.authenticate(r, fromCookie)
	if err != nil {
		return err
	}
	c.who = who
	switch a.level {
	case levelSignedIn:
		if who.kind == store.TokenApp {
			return errForbidden("an app token may only upload builds")
		}
		return nil
	case levelInstanceAdmin:
		if !who.admin {
			return errForbidden("this needs an instance admin")
		}
		return nil
	case levelApp:
		if who.kind != store.TokenApp {
			return errForbidden("this endpoint takes an app token, which names the app")
		}
		if c.proj, err = s.store.Project(who.projectID); err != nil {
			return notFoundAs(err, "project")
		}
		if c.ws, err = s.store.Workspace(c.proj.WorkspaceID); err != nil {
			return notFoundAs(err, "workspace")
		}
		if perms, _ := who.permissions(c.ws.ID, c.proj.ID); !perms.Has(a.perm) {
			return errNoPermission(a.perm)
		}
		return nil
	}

	// The workspace API names workspaces and projects by slug (:ws,
	// :proj); the organization API names organizations and apps (:org,
	// :app) by slug or id.
	if c.ws, err = s.workspaceOf(c.params); err != nil {
		return notFoundAs(err, "workspace")
	}
	perms, visible := who.permissions(c.ws.ID, "")
	if !visible {
		return errNotFound("workspace")
	}
	if name := paramOr(c.params, "proj", "app"); name != "" {
		if c.proj, err = s.projectOf(c.ws.ID, name); err != nil {
			return notFoundAs(err, "project")
		}
		if perms, visible = who.permissions(c.ws.ID, c.proj.ID); !visible {
			return errNotFound("project")
		}
	}
	if !perms.Has(a.perm) {
		return errNoPermission(a.perm)
	}
	return nil
}

func paramOr(ps httprouter.Params, names ...string) string {
	for _, n := range names {
		if v := ps.ByName(n); v != "" {
			return v
		}
	}
	return ""
}

// workspaceOf resolves the workspace named by the path, by slug, then by id.
func (s *Server) workspaceOf(ps httprouter.Params) (store.Workspace, error) {
	name := paramOr(ps, "ws", "org")
	ws, err := s.store.WorkspaceBySlug(name)
	if errors.Is(err, store.ErrNotFound) {
		ws, err = s.store.Workspace(name)
	}
	return ws, err
}

// projectOf resolves a project of a workspace by slug, then by id.
func (s *Server) projectOf(workspaceID, name string) (store.Project, error) {
	p, err := s.store.ProjectBySlug(workspaceID, name)
	if errors.Is(err, store.ErrNotFound) {
		if p, err = s.store.Project(name); err == nil && p.WorkspaceID != workspaceID {
			err = store.ErrNotFound
		}
	}
	return p, err
}

// notFoundAs turns store.ErrNotFound into a 404 naming what was missing.
func notFoundAs(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound(what)
	}
	return err
}

// tokenUse collects when tokens were last used, so that authentication costs
// no write: Serve flushes it every tokenUseFlushEvery and at shutdown.
type tokenUse struct {
	mu      sync.Mutex
	pending map[string]time.Time
}

const tokenUseFlushEvery = 30 * time.Second

func (u *tokenUse) record(hash []byte, at time.Time) {
	u.mu.Lock()
	if u.pending == nil {
		u.pending = map[string]time.Time{}
	}
	u.pending[string(hash)] = at
	u.mu.Unlock()
}

func (u *tokenUse) take() map[string]time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pending
	u.pending = nil
	return p
}

// FlushTokenUse writes the pending last-used times of tokens in one
// transaction.
func (s *Server) FlushTokenUse() error {
	return s.store.TouchTokens(s.tokenUse.take())
}
