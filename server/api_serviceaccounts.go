package server

import (
	"net/http"
	"time"

	"hangar/store"
)

// Service accounts of a workspace and their tokens. A workspace admin
// manages only the accounts that belong to their workspace alone.

type serviceAccountView struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	Role      string      `json:"role"` // in the workspace of the request
	CreatedAt time.Time   `json:"createdAt"`
	Tokens    []tokenView `json:"tokens"`
}

type createServiceAccountResponse struct {
	ServiceAccount serviceAccountView `json:"serviceAccount"`
	Token          string             `json:"token"`
}

// createServiceAccount creates a service account with a role in the
// workspace and its first token, shown once.
func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request, c *call) error {
	var req createServiceAccountRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	sa, plain, tok, err := s.newServiceAccount(c, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createServiceAccountResponse{
		ServiceAccount: serviceAccountView{ID: sa.ID, Name: sa.Name, Role: req.Role, CreatedAt: sa.CreatedAt, Tokens: []tokenView{viewToken(tok)}},
		Token:          plain,
	})
	return nil
}

func (s *Server) listServiceAccounts(w http.ResponseWriter, r *http.Request, c *call) error {
	all, err := s.store.ServiceAccounts()
	if err != nil {
		return err
	}
	out := []serviceAccountView{}
	for _, sa := range all {
		role, ok := sa.Memberships[c.ws.ID]
		if !ok {
			continue
		}
		ts, err := s.store.Tokens(sa.ID)
		if err != nil {
			return err
		}
		out = append(out, serviceAccountView{ID: sa.ID, Name: sa.Name, Role: role, CreatedAt: sa.CreatedAt, Tokens: viewAll(ts, viewToken)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
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
func (s *Server) deleteServiceAccount(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.removeServiceAccount(c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
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

func (s *Server) createServiceAccountToken(w http.ResponseWriter, r *http.Request, c *call) error {
	sa, err := s.confinedServiceAccount(c)
	if err != nil {
		return err
	}
	var req createTokenRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return err
	}
	return s.issueToken(w, r, c, store.Token{Kind: store.TokenServiceAccount, OwnerID: sa.ID, Name: req.Name})
}

func (s *Server) revokeServiceAccountToken(w http.ResponseWriter, r *http.Request, c *call) error {
	sa, err := s.confinedServiceAccount(c)
	if err != nil {
		return err
	}
	if err := c.st().RevokeToken(sa.ID, c.params.ByName("prefix")); err != nil {
		return notFoundAs(err, "token")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
