package server

import (
	"net/http"

	"hangar/store"
)

// Workspace members: users and service accounts with a role.

type memberView struct {
	Kind string `json:"kind"` // "user" or "service-account"
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	// Rule is the directory group whose rule gives this role: it is set
	// again at each sign-in, so it is not edited by hand.
	Rule string `json:"rule,omitempty"`
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	out, err := s.members(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
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
func (s *Server) setMember(w http.ResponseWriter, r *http.Request, c *call) error {
	var req setMemberRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	m, err := s.setMembership(c, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.removeMembership(c, c.params.ByName("kind"), c.params.ByName("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
