package server

import (
	"cmp"
	"net/http"
	"strings"
	"time"

	"hangar/auth"
	"hangar/store"
)

// Tokens: the instance's list, and a project's app tokens (for CI).

type tokenView struct {
	Prefix  string `json:"prefix"`
	Kind    string `json:"kind"`
	OwnerID string `json:"ownerId"`
	// Owner names whose it is: a user (sessions), a service account, or
	// (app tokens) a project, with its workspace. Set in lists.
	Owner      *ownerView `json:"owner,omitempty"`
	Name       string     `json:"name,omitempty"`
	Scope      string     `json:"scope,omitempty"`  // an app token's
	Method     string     `json:"method,omitempty"` // how a session signed in
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

// ownerView is a token's owner as lists show it.
type ownerView struct {
	Kind      string `json:"kind"` // "user", "service_account" or "project"
	Name      string `json:"name"` // username, account name, project slug
	Workspace string `json:"workspace,omitempty"`
}

// owners names the owners of tokens, each looked up once per list. An
// owner gone meanwhile is named by its ID.
type owners struct {
	s    *Server
	seen map[string]ownerView
}

func (s *Server) owners() *owners { return &owners{s: s, seen: map[string]ownerView{}} }

func (o *owners) of(t store.Token) ownerView {
	if v, ok := o.seen[t.OwnerID]; ok {
		return v
	}
	v := ownerView{Name: t.OwnerID}
	switch t.Kind {
	case store.TokenSession:
		v.Kind = "user"
		if u, err := o.s.store.User(t.OwnerID); err == nil {
			v.Name = u.Username
		}
	case store.TokenServiceAccount:
		v.Kind = "service_account"
		if sa, err := o.s.store.ServiceAccount(t.OwnerID); err == nil {
			v.Name = sa.Name
		}
	case store.TokenApp:
		v.Kind = "project"
		if p, err := o.s.store.Project(t.OwnerID); err == nil {
			v.Name = p.Slug
			if ws, err := o.s.store.Workspace(p.WorkspaceID); err == nil {
				v.Workspace = ws.Slug
			}
		}
	}
	o.seen[t.OwnerID] = v
	return v
}

// view is viewToken with the owner named.
func (o *owners) view(t store.Token) tokenView {
	v := viewToken(t)
	ov := o.of(t)
	v.Owner = &ov
	return v
}

func viewToken(t store.Token) tokenView {
	v := tokenView{Prefix: t.Prefix, Kind: t.Kind, OwnerID: t.OwnerID, Name: t.Name, Method: t.Method, CreatedAt: t.CreatedAt}
	if t.Kind == store.TokenApp {
		v.Scope = cmp.Or(t.Scope, auth.ScopeUpload)
	}
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

// listTokens lists every token of the instance: 1,000 at most (or
// ?limit=), the Link header pointing to the rest (?cursor=). Console
// sign-ins are tokens too, so the list grows with use until gc.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := wholeListPage(r)
	if err != nil {
		return err
	}
	ts, next, err := s.store.TokensPage(p.After, p.Limit)
	if err != nil {
		return err
	}
	linkNext(w, r, next)
	writeJSON(w, http.StatusOK, viewAll(ts, s.owners().view))
	return nil
}

func (s *Server) revokeAnyToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := c.st().RevokeTokenByPrefix(c.params.ByName("prefix")); err != nil {
		return notFoundAs(err, "token")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type createTokenRequest struct {
	Name string `json:"name"`
}

// createAppTokenRequest names an app token and chooses its scope
// (auth.ScopeUpload when absent).
type createAppTokenRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
}

// appScope checks an app token scope as a form or body gives it.
func appScope(scope string) (string, error) {
	scope = cmp.Or(strings.TrimSpace(scope), auth.ScopeUpload)
	if _, ok := auth.ScopePermissions(scope); !ok {
		return "", errBadRequest(`scope must be "upload", "publish" or "publish-openly"`)
	}
	return scope, nil
}

// scopeLabel says what an app token of scope may do, as the console
// shows it.
func scopeLabel(scope string) string {
	switch scope {
	case auth.ScopePublish:
		return "Upload, and publish to members"
	case auth.ScopePublishOpenly:
		return "Upload, and publish to anyone"
	}
	return "Upload only"
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, c *call, t store.Token) error {
	plain, tok, err := c.st().CreateToken(t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, newTokenResponse{tokenView: viewToken(tok), Token: plain})
	return nil
}

func (s *Server) createAppToken(w http.ResponseWriter, r *http.Request, c *call) error {
	var req createAppTokenRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	scope, err := appScope(req.Scope)
	if err != nil {
		return err
	}
	return s.issueToken(w, r, c, store.Token{Kind: store.TokenApp, OwnerID: c.proj.ID, Name: req.Name, Scope: scope})
}

func (s *Server) listAppTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	ts, err := s.store.Tokens(c.proj.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAll(ts, viewToken))
	return nil
}

func (s *Server) revokeAppToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.st().RevokeToken(c.proj.ID, c.params.ByName("prefix")); err != nil {
		return notFoundAs(err, "token")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
