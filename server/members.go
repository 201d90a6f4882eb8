package server

import (
	"net/http"

	"hangar/auth"
	"hangar/store"
)

// Workspace members: users and service accounts with a role.

type memberView struct {
	Kind string `json:"kind"` // "user" or "service-account"
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	out, err := s.members(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// members lists the request workspace's users and service accounts with
// their roles.
func (s *Server) members(c *call) ([]memberView, error) {
	users, err := s.store.Users()
	if err != nil {
		return nil, err
	}
	sas, err := s.store.ServiceAccounts()
	if err != nil {
		return nil, err
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
	return out, nil
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

// setMembership gives a member a role in the request's workspace, as the
// API and the console ask.
func (s *Server) setMembership(c *call, req setMemberRequest) (memberView, error) {
	if req.Kind == "" {
		req.Kind = store.MemberUser
	}
	if !auth.ValidRole(req.Role) {
		return memberView{}, errBadRequest("role must be viewer, ci, developer or admin")
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
	return memberView{Kind: req.Kind, ID: id, Name: name, Role: req.Role}, err
}

// removeMembership takes a member's role in the request's workspace away.
func (s *Server) removeMembership(c *call, kind, nameOrID string) error {
	id, err := s.memberID(kind, nameOrID)
	if err != nil {
		return err
	}
	return s.store.SetMembership(kind, id, c.ws.ID, "")
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.removeMembership(c, c.params.ByName("kind"), c.params.ByName("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
